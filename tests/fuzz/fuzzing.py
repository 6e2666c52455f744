"""Fuzz the API from its own OpenAPI schema with schemathesis, as each role.

Shared by the quick run in ``tests/fuzz/test_fuzz_api.py`` and the full run in
``bench/fuzz_api.py``. Every generated request goes through the real app
(in-process ASGI); a response is a failure if it is a 5xx or does not conform
to the schema (status code documented, content type, body schema).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class FuzzResult:
    requests: int = 0
    server_errors: int = 0
    violations: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)


def fuzz(
    app: Any,
    keys: dict[str, str],
    objects: dict[str, str],
    examples: int,
    seed: int = 0,
    skip: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
) -> FuzzResult:
    """Generate ``examples`` cases per operation and role; ``objects`` fills path parameters half the time.

    ``skip`` and ``only`` are patterns of ``"METHOD /path"`` labels to leave out, or to keep alone.
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    result = FuzzResult()
    for found in schema.get_all_operations():
        operation = found.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if any(re.fullmatch(s, label) for s in skip):
            continue
        if only and not any(re.fullmatch(s, label) for s in only):
            continue
        for role, key in keys.items():
            _run(operation, label, role, key, objects, examples, seed, result)
    return result


def _run(
    operation: Any,
    label: str,
    role: str,
    key: str,
    objects: dict[str, str],
    examples: int,
    seed: int,
    result: FuzzResult,
) -> None:
    counter = [0]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        counter[0] += 1
        if counter[0] % 2 == 0 and case.path_parameters:
            # Half the cases aim at objects that exist, so deeper code runs too.
            for name in list(case.path_parameters):
                if name in objects:
                    case.path_parameters[name] = objects[name]
        try:
            response = case.call(headers={"Authorization": f"Bearer {key}"})
        except Exception as exc:  # noqa: BLE001 - an exception escaping the app is a server error
            result.requests += 1
            result.server_errors += 1
            result.violations.append(f"{label} as {role}: unhandled {type(exc).__name__}: {exc}"[:400])
            return
        result.requests += 1
        result.per_operation[label] += 1
        result.statuses[response.status_code] += 1
        if response.status_code >= 500:
            result.server_errors += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # noqa: BLE001 - schemathesis raises a group of check failures
            text = " | ".join(line.strip() for line in str(exc).splitlines()[:4])
            result.violations.append(f"{label} as {role}: {text[:400]}")

    run()

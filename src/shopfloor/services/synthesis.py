"""Checking and queueing synthetic-copy jobs (the work is in :mod:`shopfloor.jobs.synthesize_job`)."""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import Job
from shopfloor.security.keys import Principal
from shopfloor.services.datasets import check_name
from shopfloor.services.queueing import check_room, queue

MAX_FACTOR = 10


def create_synthesize_job(
    platform: Platform, principal: Principal, dataset_id: str, request: dict[str, Any]
) -> Job:
    """Validate ``request`` against the dataset and queue a "synthesize" job. Nothing stored on error.

    Like every job, within the tenant's jobs and storage quotas and audited (:mod:`queueing`); the
    job stores its output only if it fits the storage quota then.
    """
    tenant = principal.tenant
    check_room(platform, tenant)
    dataset = platform.store.get_dataset(tenant, dataset_id)
    types = {c["name"]: c["type"] for c in dataset.columns}
    exclude = list(request.get("exclude") or [])
    errors = [
        {"loc": ["body", "exclude", i], "msg": "unknown column"}
        for i, c in enumerate(exclude)
        if c not in types
    ]
    if errors:
        raise InvalidInput("excluded columns must be columns of the dataset", errors=errors)
    target = request.get("target")
    if target is not None:
        if target not in types or target in exclude:
            raise InvalidInput(
                f"target column {target!r} is not in the (non-excluded) table",
                errors=[{"loc": ["body", "target"], "msg": "unknown column"}],
            )
        if types[target] not in ("numeric", "categorical", "boolean"):
            raise InvalidInput(
                f"target {target!r} is a {types[target]} column; use a numeric, categorical or boolean one",
                errors=[{"loc": ["body", "target"], "msg": "unsupported column type"}],
            )
    rows = int(request.get("rows") or dataset.rows)
    if rows > MAX_FACTOR * dataset.rows:
        raise InvalidInput(
            f"rows may be at most {MAX_FACTOR}x the real table ({MAX_FACTOR * dataset.rows})",
            errors=[{"loc": ["body", "rows"], "msg": "too many rows"}],
        )
    if dataset.rows < 50:
        raise InvalidInput("a synthetic copy with a report needs at least 50 real rows")
    name = check_name(request.get("name") or f"{dataset.name}-synthetic")
    params = {
        "dataset_id": dataset.id,
        "dataset_sha256": dataset.sha256,
        "rows": rows,
        "target": target,
        "exclude": exclude,
        "seed": int(request.get("seed") or 0),
        "name": name,
    }
    return queue(platform, principal, "synthesize", params, dataset_id=dataset.id, name=name, rows=rows)

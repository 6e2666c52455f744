"""Fuzz every route of the API from its OpenAPI schema, as each role, with the full budget.

Builds an app on a fresh home directory with a trained, promoted model and a
dataset (so predict, explain, rules, plots and batch run deep), then lets
schemathesis generate requests for every operation with an admin, a builder
and a consumer key. Then trains one small model of every task family
(tests/zoo.py: tabular, rul, anomaly, text, image anomaly, image
classification, forecast, imported) and fuzzes the model routes against each.
Counts requests, 5xx responses and schema violations (undocumented status,
wrong content type, body not matching its schema), writes section ``fuzz_api``
of docs/benchmarks.md and ends with the headline figures.

    .venv/bin/python bench/fuzz_api.py [--examples 40] [--family-examples 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import REPO, machine_info, write_section

sys.path.insert(0, str(REPO / "tests" / "fuzz"))
sys.path.insert(0, str(REPO / "tests"))
from fuzzing import FuzzResult, fuzz  # noqa: E402

from shopfloor.api.app import create_app  # noqa: E402
from shopfloor.bootstrap import prepare  # noqa: E402
from shopfloor.data.stored import store_table  # noqa: E402
from shopfloor.jobs.runner import execute  # noqa: E402
from shopfloor.security.keys import Principal, issue_key  # noqa: E402
from shopfloor.services.jobs import create_train_job  # noqa: E402
from shopfloor.settings import Settings  # noqa: E402
from zoo import build_zoo  # noqa: E402


def _table(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    kind = rng.choice(["L", "M", "H"], size=n)
    y = (x[:, 0] + (kind == "H") > 0.8).astype(int)
    return pd.DataFrame({"Speed [rpm]": x[:, 0], "Torque [Nm]": x[:, 1], "Type": kind, "failure": y})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40, help="generated cases per operation and role")
    parser.add_argument(
        "--family-examples",
        type=int,
        default=10,
        help="cases per model route and role, for each family's model",
    )
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    home = Path(tempfile.mkdtemp(prefix="shopfloor-fuzz-"))
    settings = Settings(home=home, default_time_budget_s=10)
    platform = prepare(settings)
    keys = {
        r: issue_key(platform.store, platform.secret, tenant="default", role=r).secret
        for r in ("admin", "builder", "consumer")
    }
    csv = home / "t.csv"
    _table().to_csv(csv, index=False)
    dataset = store_table(platform, "default", csv, name="fuzz", size=csv.stat().st_size, sha256="0" * 64)
    job = create_train_job(
        platform,
        Principal(key_id="bench", tenant="default", role="builder"),
        {
            "task": "tabular_classification",
            "dataset_id": dataset.id,
            "target": "failure",
            "exclude": [],
            "model_name": "line1",
            "metric": None,
            "time_budget_s": 10,
            "seed": 0,
        },
    )
    platform.store.claim_job("bench:0")
    execute(settings, job.id)
    platform.store.set_alias("default", "line1", "production", 1)
    objects = {
        "dataset_id": dataset.id,
        "name": "line1",
        "version": "1",
        "alias": "production",
        "job_id": job.id,
        "kind": "confusion",
    }
    app = create_app(settings, platform)
    started = time.monotonic()
    with TestClient(app, raise_server_exceptions=False) as client:
        result = fuzz(app, keys, objects, examples=args.examples)
        seconds = time.monotonic() - started
        families = _fuzz_families(settings, platform, client, keys, args.family_examples)
    info = machine_info()
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
    lines = [
        "## API fuzzing from the OpenAPI schema (`bench/fuzz_api.py`)",
        "",
        f"Command: `.venv/bin/python bench/fuzz_api.py --examples {args.examples} "
        f"--family-examples {args.family_examples}`; "
        f"{info['date']}, "
        f"{info['nproc']} cores. schemathesis generated requests for {len(result.per_operation)} operations "
        "with an admin, a builder and a consumer key (in-process ASGI; a trained, promoted model and "
        "a dataset exist, and half the cases aim at them). Checks: no 5xx, documented status code, "
        "content type and response body schema.",
        "",
        "| requests | server errors (5xx) | schema violations | seconds |",
        "|---:|---:|---:|---:|",
        f"| {result.requests} | {result.server_errors} | {len(result.violations)} | {seconds:.0f} |",
        "",
        f"Status codes seen: {statuses}.",
    ]
    if result.violations:
        lines += ["", "First violations:", *[f"- {v}" for v in result.violations[:10]]]
    lines += [
        "",
        f"Model routes (`/v1/models/{{name}}/...`) against one small trained model of every family "
        f"(tests/zoo.py), {args.family_examples} cases per route and role (builder, consumer):",
        "",
        "| family | requests | server errors (5xx) | schema violations |",
        "|---|---:|---:|---:|",
        *[
            f"| {fam} | {r.requests} | {r.server_errors} | {len(r.violations)} |"
            for fam, r in families.items()
        ],
    ]
    family_violations = [v for r in families.values() for v in r.violations]
    if family_violations:
        lines += ["", "First violations on the family models:", *[f"- {v}" for v in family_violations[:10]]]
    write_section("fuzz_api", "\n".join(lines))
    for v in (result.violations + family_violations)[:20]:
        print(v, file=sys.stderr)
    print(f"requests: {result.requests + sum(r.requests for r in families.values())}")
    print(f"server_errors: {result.server_errors + sum(r.server_errors for r in families.values())}")


class _Zoo:
    """What tests/zoo.py needs of the test API: a client, headers per role and a job runner."""

    def __init__(self, settings: Settings, platform: Any, client: Any, keys: dict[str, str]) -> None:
        self.settings, self.platform, self.client, self.keys = settings, platform, client, keys

    def headers(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def run_jobs(self) -> None:
        while (job := self.platform.store.claim_job("bench:0")) is not None:
            execute(self.settings, job.id)


def _fuzz_families(
    settings: Settings, platform: Any, client: Any, keys: dict[str, str], examples: int
) -> dict[str, FuzzResult]:
    zoo = _Zoo(settings, platform, client, keys)
    # The jobs the first pass queued (random training requests) would hold the tenant's job quota.
    for _ in range(50):
        listed = client.get("/v1/jobs", headers=zoo.headers("admin")).json()["items"]
        pending = [job["id"] for job in listed if job["status"] in ("queued", "running")]
        if not pending:
            break
        for job_id in pending:
            client.post(f"/v1/jobs/{job_id}/cancel", headers=zoo.headers("admin"))
    zoo.run_jobs()  # cancelled jobs still queued end at once
    members = build_zoo(zoo)
    roles = {r: keys[r] for r in ("builder", "consumer")}
    out = {}
    for family, member in members.items():
        out[family] = fuzz(
            client.app,
            roles,
            {"name": member.name, "version": "1"},
            examples=examples,
            only=(r"\w+ /v1/models/\{name\}/.*",),
        )
        zoo.run_jobs()  # the batch jobs it queued (the tenant's job quota is small)
        print(f"{family}: {out[family].requests} requests, {out[family].server_errors} 5xx", flush=True)
    return out


if __name__ == "__main__":
    main()

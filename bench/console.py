"""Server time per console page with a registry of 1,000 models and 10,000 jobs.

One small model is trained through the API; its registry row is then repeated under 999 more
names, and 10,000 jobs are queued, straight into the registry (SQLite, the embedded default). Each
page is requested ``--repeats`` times by a signed-in admin through the app in this process (no
network), and the time from request to answer is taken. Writes section ``console`` of
docs/benchmarks.md and prints ``p95_page_ms``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from _common import machine_info, write_section  # noqa: E402

from shopfloor.api.app import create_app  # noqa: E402
from shopfloor.bootstrap import prepare  # noqa: E402
from shopfloor.jobs.runner import execute  # noqa: E402
from shopfloor.registry.ids import new_id  # noqa: E402
from shopfloor.security.keys import issue_key  # noqa: E402
from shopfloor.settings import Settings  # noqa: E402
from zoo import machines  # noqa: E402

PAGES = [
    "/",
    "/datasets",
    "/jobs",
    "/jobs?page=100",
    "/jobs?status=queued&page=3",
    "/models",
    "/models?page=20",
    "/models/model-0500",
    "/models/model-0500/versions/1",
    "/models/model-0500/try",
    "/train",
    "/admin/keys",
    "/admin/audit",
    "/admin/quotas",
]


def _seed(client: TestClient, platform: object, headers: dict[str, str], models: int, jobs: int) -> None:
    table = machines(160).to_csv(index=False).encode()
    ds = client.post("/v1/datasets", files={"file": ("line.csv", table)}, headers=headers).json()
    body = {
        "task": "tabular_classification",
        "dataset_id": ds["id"],
        "target": "failure",
        "model_name": "model-0000",
        "time_budget_s": 2,
    }
    job = client.post("/v1/jobs", json=body, headers=headers).json()
    store = platform.store  # type: ignore[attr-defined]
    claimed = store.claim_job("bench:0")
    execute(platform.settings, claimed.id)  # type: ignore[attr-defined]
    assert store.get_job("default", job["id"]).status == "succeeded"
    first = store.get_version("default", "model-0000", 1)
    for i in range(1, models):
        store.add_version(
            tenant="default",
            model=f"model-{i:04d}",
            task=first.task,
            report=first.report,
            input_schema=first.input_schema,
            files=first.files,
            artifact=first.artifact,
            lineage=first.lineage,
            job_id=None,
            signature=first.signature,
        )
    for i in range(jobs - 1):
        store.create_job(
            id=new_id("job"),
            tenant="default",
            type="train",
            params={**body, "model_name": f"model-{i % models:04d}"},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        platform = prepare(settings)
        key = issue_key(platform.store, platform.secret, tenant="default", role="admin").secret
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(settings, platform), raise_server_exceptions=False) as client:
            t0 = time.perf_counter()
            _seed(client, platform, headers, args.models, args.jobs)
            seeded = time.perf_counter() - t0
            form = client.get("/signin", headers={"Accept": "text/html"}).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            signed = client.post(
                "/signin", data={"api_key": key, "csrf_token": token}, follow_redirects=False
            )
            assert signed.status_code == 303
            times: dict[str, list[float]] = {p: [] for p in PAGES}
            for _ in range(args.repeats):
                for path in PAGES:
                    start = time.perf_counter()
                    answer = client.get(path, headers={"Accept": "text/html"})
                    times[path].append((time.perf_counter() - start) * 1000)
                    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        platform.close()
    every = sorted(t for ts in times.values() for t in ts)
    p95 = every[int(0.95 * (len(every) - 1))]
    info = machine_info()
    lines = [
        "## Console pages (`bench/console.py`)",
        "",
        f"Command: `.venv/bin/python bench/console.py --models {args.models} --jobs {args.jobs} "
        f"--repeats {args.repeats}`; {info['date']}, {info['nproc']} cores. SQLite registry (the "
        f"embedded default) holding {args.models:,} models and {args.jobs:,} jobs (seeded in "
        f"{seeded:.0f} s); each page requested {args.repeats} times by a signed-in admin through the "
        "app in one process (server time, no network).",
        "",
        "| page | median ms | p95 ms |",
        "|---|---:|---:|",
        *[
            f"| `{p}` | {statistics.median(ts):.1f} | {sorted(ts)[int(0.95 * (len(ts) - 1))]:.1f} |"
            for p, ts in times.items()
        ],
        "",
        f"All pages together: p95 {p95:.1f} ms (target at most 100).",
    ]
    write_section("console", "\n".join(lines))
    print(f"p95_page_ms: {p95:.1f}")


if __name__ == "__main__":
    main()

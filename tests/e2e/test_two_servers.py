"""Two real servers on one PostgreSQL registry and one artifact directory: same models, no job run twice."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor import Client
from shopfloor.registry.sql import SqlStore

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e

JOBS = 4
SHARED_ENV = {
    # Both servers must hash API keys and wrap data keys alike, so the secrets are given, not generated.
    "SHOPFLOOR_SECRET_KEY": "two-servers-test-secret-0123456789abcdef",
    "SHOPFLOOR_MASTER_KEY": "0f" * 32,
    "SHOPFLOOR_TENANT_MAX_CONCURRENT_JOBS": str(JOBS + 2),
    "SHOPFLOOR_JOB_POLL_INTERVAL_S": "0.2",
}


@pytest.fixture()
def servers(tmp_path: Path, pg_database: str) -> Iterator[tuple[Server, Server]]:
    env = {**SHARED_ENV, "SHOPFLOOR_DATABASE_URL": pg_database}
    home = tmp_path / "home"
    a = Server(home, **env)
    b = Server(home, **env)
    try:
        a.start()  # A migrates the empty database and prints the first admin key
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


def _dataset(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "kind": rng.choice(["a", "b"], n)}
    )
    frame["y"] = ((frame["x1"] + 0.5 * frame["x2"]) > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


def test_two_servers_share_models_and_run_each_job_once(
    servers: tuple[Server, Server], tmp_path: Path, pg_database: str
) -> None:
    a, b = servers
    key = a.admin_key()
    assert key, "the first server prints an admin key"
    with Client(a.url, key) as ca, Client(b.url, key) as cb:
        dataset = ca.upload_dataset(_dataset(tmp_path / "tiny.csv"))
        assert cb.get_dataset(dataset["id"])["rows"] == 300  # B sees A's upload
        jobs = [
            (ca, cb)[i % 2].train(dataset["id"], "y", "tiny", time_budget_s=2, seed=i) for i in range(JOBS)
        ]
        deadline = time.monotonic() + 300
        done = {}
        for job in jobs:
            waiter = (ca, cb)[len(done) % 2]
            done[job["id"]] = waiter.wait(job["id"], timeout=max(1.0, deadline - time.monotonic()), poll=0.3)
        assert all(d["status"] == "succeeded" for d in done.values()), done

        versions = cb.list_models()
        assert [m["name"] for m in versions] == ["tiny"]
        produced = sorted(d["result"]["version"] for d in done.values())
        assert produced == list(range(1, JOBS + 1)), "each job added exactly one version"

        records = pd.read_csv(tmp_path / "tiny.csv").drop(columns=["y"]).head(20).to_dict("records")
        via_a = ca.predict("tiny", records, version=1)
        via_b = cb.predict("tiny", records, version=1)
        assert via_a["predictions"] == via_b["predictions"]

    # Each runner logs the jobs it starts: together exactly the jobs queued, and both took a share.
    started = [
        [
            line.split("started job ")[1].split()[0]
            for line in srv.log.read_text().splitlines()
            if "started job " in line
        ]
        for srv in (a, b)
    ]
    assert sorted(started[0] + started[1]) == sorted(done)
    assert started[0] and started[1], started

    store = SqlStore(pg_database)
    try:
        rows = store.list_versions("default", "tiny")
        assert sorted(v.job_id for v in rows) == sorted(done), "one version per job, none twice"
        runners = set()
        for job_id in done:
            job = store.get_job("default", job_id)
            assert job.status == "succeeded" and job.worker and job.started_at is not None
            runners.add(job.worker)
        assert len(runners) == JOBS  # one job process per job
    finally:
        store.close()

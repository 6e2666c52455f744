"""Server roles on one PostgreSQL registry: an ``api`` process queues jobs and runs none; a ``worker``
process (no HTTP port) started later against the same registry claims them and finishes them."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import Server, session_pids  # noqa: E402

pytestmark = pytest.mark.e2e

SHARED_ENV = {
    "SHOPFLOOR_SECRET_KEY": "roles-test-secret-0123456789abcdef0123",
    "SHOPFLOOR_MASTER_KEY": "0d" * 32,
    "SHOPFLOOR_JOB_POLL_INTERVAL_S": "0.2",
}


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports on which any of ``pids`` listens (from /proc: socket inodes of the processes'
    descriptors matched against the LISTEN rows of /proc/net/tcp and tcp6)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture()
def env(tmp_path: Path, pg_database: str) -> dict[str, str]:
    return {
        **SHARED_ENV,
        "SHOPFLOOR_DATABASE_URL": pg_database,
        "SHOPFLOOR_ARTIFACTS_URL": f"file://{tmp_path / 'artifacts'}",
    }


@pytest.fixture()
def api_server(tmp_path: Path, env: dict[str, str]) -> Iterator[Server]:
    server = Server(tmp_path / "api", role="api", **env)
    try:
        yield server.start()
    finally:
        server.stop()


def _csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    frame["y"] = (frame["x1"] + frame["x2"] > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


def test_api_role_runs_no_job_until_a_worker_claims_it(
    api_server: Server, tmp_path: Path, env: dict[str, str]
) -> None:
    assert api_server.proc is not None
    assert "role api: no job runner" in api_server.log.read_text()
    # One process: uvicorn in the serving process, no job runner child.
    assert session_pids(api_server.proc.pid) == [api_server.proc.pid]
    key = api_server.admin_key()
    assert key
    with Client(api_server.url, key) as client:
        dataset = client.upload_dataset(_csv(tmp_path / "tiny.csv"))
        job = client.train(dataset["id"], "y", "tiny", time_budget_s=2, seed=1)
        time.sleep(3.0)  # 15 poll intervals of a runner, had there been one
        assert client.get_job(job["id"])["status"] == "queued"

        worker = Server(tmp_path / "worker", role="worker", **env)
        try:
            worker.start()
            assert worker.proc is not None
            assert listening_ports(session_pids(worker.proc.pid)) == set()  # no HTTP listener at all
            done = client.wait(job["id"], timeout=180, poll=0.3)
            assert done["status"] == "succeeded", done
            answer = client.predict("tiny", [{"x1": 0.3, "x2": -0.1}], version=1)
            assert answer["version"] == 1
            started = [line for line in worker.log.read_text().splitlines() if "started job " in line]
            assert len(started) == 1 and job["id"] in started[0]
        finally:
            worker.stop()
        assert worker.proc.returncode == -15  # stopped as a process stopped by SIGTERM is
        assert "started job " not in api_server.log.read_text()

"""Stopping `shopfloor serve` stops every process it started: on SIGTERM within a bound, and when the
serving process is killed outright (SIGKILL), through the children's parent-death watch."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import Server, gone_within, port_free, session_pids  # noqa: E402

pytestmark = pytest.mark.e2e

ENV = {"SHOPFLOOR_SECRET_KEY": "f" * 64, "SHOPFLOOR_MASTER_KEY": "e" * 64, "SHOPFLOOR_JOB_DRAIN_S": "1"}


def _running_job(server: Server, tmp_path: Path) -> str:
    key = server.admin_key()
    assert key
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    data = tmp_path / "t.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x.sum(axis=1) > 0).astype(int)}).to_csv(data, index=False)
    with Client(server.url, key) as c:
        ds = c.upload_dataset(data)
        job = c.train(ds["id"], "y", "long", time_budget_s=120)
        deadline = time.monotonic() + 60
        while c.get_job(job["id"])["status"] != "running" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert c.get_job(job["id"])["status"] == "running"
    return str(job["id"])


def test_sigterm_stops_runner_jobs_and_tracker_and_frees_the_port(tmp_path: Path) -> None:
    server = Server(tmp_path / "home", **ENV).start()
    assert server.proc is not None
    job_id = _running_job(server, tmp_path)
    assert len(session_pids(server.proc.pid)) >= 4  # serve, resource tracker, runner, job
    os.kill(server.proc.pid, signal.SIGTERM)  # the serving process only, as `kill PID` does
    took = gone_within(server, 20)
    assert port_free(server.port)
    print(f"SIGTERM, 1 worker: every process gone after {took:.1f}s")
    server.start()
    try:
        with Client(server.url, server.admin_key()) as c:
            job = c.get_job(job_id)
        # handed back to the queue by the drain, then started again by the new runner
        assert job["status"] in {"queued", "running"} and job["attempts"] >= 1, job
    finally:
        server.stop()


def test_sigkill_of_the_master_then_sigterm_with_two_workers(tmp_path: Path) -> None:
    """SIGKILL of the master takes workers and runner along and frees the port; the server started
    again on that port then stops whole on SIGTERM (one restart serves both checks)."""
    server = Server(tmp_path / "home", workers=2, **ENV).start()
    assert server.proc is not None
    assert len(session_pids(server.proc.pid)) >= 5  # serve, tracker, runner, 2 workers
    os.kill(server.proc.pid, signal.SIGKILL)
    took = gone_within(server, 10)
    print(f"SIGKILL of the master, 2 workers: every process gone after {took:.1f}s")
    again = Server(tmp_path / "home", port=server.port, workers=2, **ENV).start()  # the port is free
    assert again.proc is not None
    os.kill(again.proc.pid, signal.SIGTERM)
    took = gone_within(again, 20)
    assert port_free(again.port)
    print(f"SIGTERM, 2 workers: every process gone after {took:.1f}s")

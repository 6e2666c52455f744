"""Jobs on a Dask cluster: a real scheduler and two workers on loopback, the dispatcher in a thread.

Checks in the registry: each job runs exactly once, a SIGKILLed worker's job is retried once (never
left running), jobs queued across a scheduler restart still run, and cancellation keeps its contract.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from dask_jobs import JobsApi, wait_for
from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.jobs.dask_runner import DaskDispatcher
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings

SRC = Path(__file__).resolve().parents[2] / "src"
HEARTBEAT_TIMEOUT_S = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return wait_for(check, timeout, what, poll=0.2)


@dataclass
class Cluster(JobsApi):
    settings: Settings
    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen[bytes]]
    logs: Path
    poll_s: ClassVar[float] = 0.2

    def start(self, name: str) -> None:
        address = f"tcp://127.0.0.1:{self.port}"
        if name == "scheduler":
            args = ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(self.port)]
        else:
            args = ["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1"]
            args += ["--preload", "shopfloor.jobs.dask_preload"]  # as in the README
            args += ["--name", name, "--host", "127.0.0.1"]
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "-m", *args, "--no-dashboard"], env=self.env, stdout=log, stderr=log
            )

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def wait_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.settings.dask_scheduler, timeout=20, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=60)


def _dataset(cluster: Cluster) -> str:
    frame = pd.DataFrame({"x": range(120), "y": [i % 7 for i in range(120)]})
    frame["label"] = (frame["x"] > 60).map({True: "high", False: "low"})
    answer = cluster.client.post(
        "/v1/datasets",
        files={"file": ("table.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": "table"},
        headers=cluster.headers,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One scheduler, two workers and a dispatcher for the whole module (their start costs seconds);
    each test names its own models, and a test that stops a process starts it again."""
    tmp_path = tmp_path_factory.mktemp("dask")
    port = _free_port()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "SHOPFLOOR_HOME": str(home),
        "SHOPFLOOR_JOB_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        "SHOPFLOOR_DASK_SCHEDULER": f"tcp://127.0.0.1:{port}",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    settings = Settings(
        home=home,
        dask_scheduler=f"tcp://127.0.0.1:{port}",
        job_heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        job_poll_interval_s=0.2,
        tenant_max_concurrent_jobs=10,
    )
    platform = prepare(settings)
    key = issue_key(platform.store, platform.secret, tenant="default", role="admin").secret
    logs = tmp_path / "logs"
    logs.mkdir()
    with TestClient(create_app(settings, platform), raise_server_exceptions=False) as client:
        headers = {"Authorization": f"Bearer {key}"}
        made = Cluster(platform, client, headers, settings, env, port, {}, logs)
        stop = threading.Event()
        dispatcher = threading.Thread(target=DaskDispatcher(settings).run, args=(stop,), daemon=True)
        try:
            made.start("scheduler")
            made.start("w1")
            made.start("w2")
            made.wait_workers(2)
            dispatcher.start()
            yield made
        finally:
            stop.set()
            dispatcher.join(20)
            for name in list(made.procs):
                made.stop(name)
    platform.close()


def test_six_jobs_run_once_each_on_two_workers(cluster: Cluster) -> None:
    dataset = _dataset(cluster)
    ids = [cluster.train(dataset, f"m{i}") for i in range(6)]
    jobs = [cluster.finished(job_id) for job_id in ids]
    assert [j.status for j in jobs] == ["succeeded"] * 6, [(j.status, j.error) for j in jobs]
    assert [j.attempts for j in jobs] == [1] * 6
    assert len({j.worker for j in jobs}) == 2  # both workers took jobs
    versions = [cluster.platform.store.list_versions("default", f"m{i}") for i in range(6)]
    assert [len(v) for v in versions] == [1] * 6  # exactly one model version per job


def test_a_job_whose_worker_is_killed_runs_once_more(cluster: Cluster) -> None:
    cluster.wait_workers(2)
    job_id = cluster.train(_dataset(cluster), "killed", budget=10)
    running = _wait(lambda: (j := cluster.job(job_id)).status == "running" and j, 60, "the job to start")
    os.kill(int(running.worker.rsplit(":", 1)[1]), signal.SIGKILL)  # the worker process, not its nanny
    job = cluster.finished(job_id)
    assert job.status == "succeeded" and job.attempts == 2, (job.status, job.error, job.attempts)
    assert job.worker != running.worker
    assert len(cluster.platform.store.list_versions("default", "killed")) == 1


def test_jobs_queued_across_a_scheduler_restart_still_run(cluster: Cluster) -> None:
    dataset = _dataset(cluster)
    cluster.stop("scheduler", signal.SIGKILL)
    ids = [cluster.train(dataset, f"after{i}") for i in range(2)]
    time.sleep(1.0)
    assert [cluster.job(i).status for i in ids] == ["queued", "queued"]
    # A dask worker ends when its scheduler goes away; a supervisor (systemd) starts it again.
    for name in ("w1", "w2"):
        cluster.stop(name)
    cluster.start("scheduler")
    cluster.start("w1")
    cluster.start("w2")
    jobs = [cluster.finished(job_id, timeout=90) for job_id in ids]
    assert [(j.status, j.attempts) for j in jobs] == [("succeeded", 1)] * 2, [j.error for j in jobs]


def test_cancel_a_running_and_a_queued_job(cluster: Cluster) -> None:
    cluster.wait_workers(2)
    dataset = _dataset(cluster)
    ids = [cluster.train(dataset, f"c{i}", budget=30) for i in range(3)]
    running = _wait(lambda: next((i for i in ids if cluster.job(i).status == "running"), None), 60, "a start")
    waiting = [i for i in ids if i != running]
    for job_id in [running, *waiting]:
        answer = cluster.client.post(f"/v1/jobs/{job_id}/cancel", headers=cluster.headers)
        assert answer.status_code == 200, answer.text
    for job_id in ids:
        job = cluster.finished(job_id, timeout=30)
        assert job.status == "cancelled", (job_id, job.status, job.error)
    time.sleep(1.0)
    assert all(cluster.job(i).status == "cancelled" for i in ids)  # no late run changed them


def test_the_scheduler_address_is_checked() -> None:
    for bad in ("127.0.0.1:8786", "http://127.0.0.1:8786", "tcp://", "tcp://host"):
        with pytest.raises(ValueError, match="SHOPFLOOR_DASK_SCHEDULER"):
            Settings(dask_scheduler=bad)
    assert Settings(dask_scheduler="").dask_scheduler is None

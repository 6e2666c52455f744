"""Jobs on a Dask cluster fan their parts out over it: an in-process cluster of single-thread
workers, the dispatcher in a thread, the job handlers of this process (plus a probe job type whose
parts are timed sleeps).

Checks: a training's candidates, folds and refits, and a panel's series, run on both workers with
the results of the local path; a failing part fails its job and says which; a cancelled job
cancels its parts; one worker runs three queued jobs one after the other (no deadlock); and a
job's time budget is not spent while another job holds its worker.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from dask_jobs import JobsApi, wait_for
from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.jobs import dask_runner
from shopfloor.jobs.dask_preload import preload
from shopfloor.jobs.dask_runner import DaskDispatcher
from shopfloor.jobs.handlers import HANDLERS
from shopfloor.parallel import fan_out
from shopfloor.registry.entities import Job
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings

distributed = pytest.importorskip("distributed")

#: (job tag, part index) of every probe part that started, in this process (the workers' too)
STARTED: list[tuple[str, int]] = []


def _part(tag: str, seconds: float, fail_at: int | None, i: int) -> int:
    STARTED.append((tag, i))
    if i == fail_at:
        raise ValueError(f"part {i} is broken")
    time.sleep(seconds)
    return i * i


def _probe(platform: Platform, job: Job, progress: Callable[[float, str, str], None]) -> dict[str, Any]:
    """A job that holds its thread ``hold_s`` seconds, then fans out ``parts`` sleeps of ``part_s``."""
    p = job.params
    started = time.perf_counter()
    time.sleep(p.get("hold_s", 0))
    n = p.get("parts", 0)

    def before(i: int) -> bool:
        progress(i / max(n, 1), "parts", f"part {i + 1} of {n}")
        return True

    work = partial(_part, p["tag"], p.get("part_s", 0.1), p.get("fail_at"))
    values = fan_out(work, list(range(n)), before=before, name="probe")
    return {"values": values, "seconds": time.perf_counter() - started}


@dataclass
class Env(JobsApi):
    dask: Any
    finish_s: ClassVar[float] = 120

    def probe(self, tag: str, **params: Any) -> str:
        job = self.platform.store.create_job(
            id=f"probe-{tag}-{time.monotonic_ns()}",
            tenant="default",
            type="probe",
            params={"tag": tag, **params},
        )
        return job.id

    def dataset(self) -> str:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(
            {"a": rng.normal(size=160), "b": rng.normal(size=160), "c": rng.normal(size=160)}
        )
        frame["label"] = np.where(frame.a - frame.b + 0.3 * rng.normal(size=160) > 0, "high", "low")
        answer = self.client.post(
            "/v1/datasets",
            files={"file": ("table.csv", frame.to_csv(index=False).encode(), "text/csv")},
            data={"name": "table"},
            headers=self.headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])


@contextmanager
def _cluster(home: Path, workers: int) -> Iterator[Env]:
    """``workers`` single-thread Dask workers in this process, and a dispatcher sending them jobs."""
    preload()  # as `dask worker --preload shopfloor.jobs.dask_preload` does, before any task
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as dask,
    ):
        settings = Settings(
            home=home,
            dask_scheduler=cluster.scheduler_address,
            job_heartbeat_timeout_s=3.0,
            job_poll_interval_s=0.2,
            tenant_max_concurrent_jobs=10,
        )
        platform = prepare(settings)
        key = issue_key(platform.store, platform.secret, tenant="default", role="admin").secret
        former, dask_runner._platform = dask_runner._platform, platform  # the workers' platform
        handler, HANDLERS["probe"] = HANDLERS.get("probe"), _probe
        stop = threading.Event()
        dispatcher = threading.Thread(target=DaskDispatcher(settings).run, args=(stop,), daemon=True)
        try:
            with TestClient(create_app(settings, platform), raise_server_exceptions=False) as client:
                dispatcher.start()
                yield Env(platform, client, {"Authorization": f"Bearer {key}"}, dask)
        finally:
            stop.set()
            dispatcher.join(20)
            if handler is None:
                HANDLERS.pop("probe", None)
            dask_runner._platform = former
            platform.close()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with _cluster(tmp_path_factory.mktemp("two") / "home", workers=2) as env:
        yield env


def _jsonable(value: Any) -> Any:
    """The value as the registry stores it (JSON), for comparison with a stored report."""
    return json.loads(json.dumps(value, default=float))


def _workers_by_part(stream: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for task in stream:
        out.setdefault(str(task["key"]).split("-")[0], set()).add(task["worker"])
    return out


def test_a_trainings_parts_run_on_both_workers_with_the_local_results(two: Env) -> None:
    from shopfloor.data.stored import frame_for_learning
    from shopfloor.tasks import catalog

    dataset = two.dataset()
    two.dask.get_task_stream()  # the scheduler records the task stream from here on
    started = time.time()
    job = two.finished(two.train(dataset, "spread", budget=60))
    stream = two.dask.get_task_stream(start=started)
    assert job.status == "succeeded", job.error
    workers = _workers_by_part(stream)
    counts = {k: sum(str(t["key"]).startswith(f"{k}-") for t in stream) for k in workers}
    # feature construction's CV folds, model selection's candidates and the five stability refits
    assert counts.get("fold", 0) >= 3 and counts.get("candidate", 0) >= 3 and counts["stability"] == 5, counts
    assert len(workers["candidate"]) == 2 and len(workers["fold"]) == 2, workers
    assert len(workers["stability"] | workers["candidate"] | workers["fold"]) == 2

    frame, types = frame_for_learning(two.platform, two.platform.store.get_dataset("default", dataset), [])
    here = catalog.make_estimator(
        "tabular_classification", metric=None, seed=0, time_budget_s=60, column_types=types
    ).fit(frame, "label")
    there = two.platform.store.list_versions("default", "spread")[0].report
    assert there["budget"]["cuts"] == here.report_["budget"]["cuts"] == []  # nothing cut by time
    assert there["features"]["search"] == _jsonable(here.report_["features"]["search"])
    assert there["stability"]["n"] == 5
    assert there["stability"]["metrics"] == _jsonable(here.report_["stability"]["metrics"])
    scores = [(c["name"], c["cv_score"], c["cv_std"]) for c in there["candidates"]]
    assert scores == [(c["name"], c["cv_score"], c["cv_std"]) for c in here.report_["candidates"]]
    assert there["metrics"] == _jsonable(here.report_["metrics"])


def _panel_forecasts() -> tuple[bool, dict[str, np.ndarray]]:
    from shopfloor.parallel import on_cluster
    from shopfloor.tasks.forecast import candidates as C

    rng = np.random.default_rng(7)
    histories = [
        10 + 3 * np.sin(np.arange(48 + s) * 2 * np.pi / 12) + rng.normal(0, 1, 48 + s) for s in range(8)
    ]
    return on_cluster(), C.statistical(["seasonal_naive", "auto_ets"], histories, 6, C.Context(season=12))


def test_a_panels_series_are_forecast_on_both_workers_with_the_local_numbers(two: Env) -> None:
    local, here = _panel_forecasts()
    two.dask.get_task_stream()
    started = time.time()
    clustered, there = two.dask.submit(_panel_forecasts, pure=False).result(timeout=120)
    assert clustered and not local
    assert _workers_by_part(two.dask.get_task_stream(start=started)).get("series") is not None
    assert len(_workers_by_part(two.dask.get_task_stream(start=started))["series"]) == 2
    assert set(there) == set(here)
    for name in here:
        assert there[name].shape == (8, 6)
        np.testing.assert_array_equal(there[name], here[name])


def test_a_failing_part_fails_its_job_and_says_which(two: Env) -> None:
    job = two.finished(two.probe("failing", parts=6, part_s=0.2, fail_at=3), timeout=60)
    assert job.status == "failed"
    assert job.error is not None
    assert "probe 4 of 6 of this job failed on tcp://127.0.0.1:" in job.error, job.error
    assert job.error.endswith("ValueError: part 3 is broken"), job.error


def test_a_cancelled_job_cancels_its_parts(two: Env) -> None:
    job_id = two.probe("cancelled", parts=40, part_s=0.5)
    wait_for(lambda: sum(tag == "cancelled" for tag, _ in STARTED) >= 2, 60, "its parts to start")
    answer = two.client.post(f"/v1/jobs/{job_id}/cancel", headers=two.headers)
    assert answer.status_code == 200, answer.text
    asked = time.monotonic()
    job = two.finished(job_id, timeout=30)
    assert job.status == "cancelled", (job.status, job.error)
    assert time.monotonic() - asked < 6  # the job stopped waiting for its parts at once
    time.sleep(1.5)  # the parts running at the cancellation end; no other starts after them
    ran = sum(tag == "cancelled" for tag, _ in STARTED)
    time.sleep(1.0)
    assert ran == sum(tag == "cancelled" for tag, _ in STARTED) < 20
    left = two.dask.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    assert not [k for k in left if k.startswith("probe-")], left


def test_one_worker_runs_three_queued_jobs_one_after_another(tmp_path: Path) -> None:
    """A job's parts take the thread the job gives up while it waits: with one single-thread
    worker nothing deadlocks, and the dispatcher sends the next job only when the last one ended."""
    with _cluster(tmp_path / "home", workers=1) as one:
        dataset = one.dataset()
        ids = [one.train(dataset, f"one{i}", budget=5) for i in range(3)]
        jobs = sorted((one.finished(i, timeout=180) for i in ids), key=lambda j: j.started_at or 0)
    assert [j.status for j in jobs] == ["succeeded"] * 3, [(j.status, j.error) for j in jobs]
    for a, b in zip(jobs, jobs[1:], strict=False):
        assert a.finished_at is not None and b.started_at is not None and a.finished_at <= b.started_at


def test_a_jobs_budget_is_not_spent_while_another_job_holds_its_worker(tmp_path: Path) -> None:
    """Job A waits for its parts (its thread given up); job B, queued just after it, would hold
    the worker's only thread for 4 s without fanning out. B starts only when A has ended, so A's
    parts are not kept waiting behind B."""
    with _cluster(tmp_path / "home", workers=1) as one:
        first = one.probe("first", parts=4, part_s=0.3)
        second = one.probe("second", hold_s=4.0)
        a, b = one.finished(first, timeout=60), one.finished(second, timeout=60)
    assert (a.status, b.status) == ("succeeded", "succeeded"), (a.error, b.error)
    assert a.result is not None and a.result["values"] == [0, 1, 4, 9]
    assert a.result["seconds"] < 3.0, a.result  # 1.2 s of parts, not B's 4 s on top
    assert a.finished_at is not None and b.started_at is not None and a.finished_at <= b.started_at


def _jobs_on_workers(dask_scheduler: Any) -> dict[str, str]:
    return {
        str(k): ts.processing_on.address
        for k, ts in dask_scheduler.tasks.items()
        if str(k).startswith("shopfloor-job-") and ts.processing_on is not None
    }


def test_a_job_queued_while_another_waits_for_its_parts_runs_on_the_other_worker(two: Env) -> None:
    """Job A lends its thread to its parts; job B, queued then, goes to the worker A is not on, so
    A gets its thread back when its parts are in, not when B ends."""
    first = two.probe("lender", parts=8, part_s=0.5)
    wait_for(lambda: sum(tag == "lender" for tag, _ in STARTED) >= 2, 60, "its parts to start")
    second = two.probe("holder", hold_s=10.0)
    where = wait_for(
        lambda: len(w := two.dask.run_on_scheduler(_jobs_on_workers)) == 2 and w, 30, "both jobs"
    )
    a, b = two.finished(first, timeout=60), two.finished(second, timeout=60)
    assert (a.status, b.status) == ("succeeded", "succeeded"), (a.error, b.error)
    assert len(set(where.values())) == 2, where  # one job per worker
    assert a.result is not None and a.result["seconds"] < 8.0, a.result  # its parts, not B's 10 s


def test_a_job_goes_to_the_worker_with_a_thread_no_job_holds() -> None:
    from shopfloor.jobs.dask_runner import free_worker

    threads = {"tcp://a:1": 1, "tcp://b:1": 1, "tcp://c:1": 2}
    assert free_worker(threads, []) == "tcp://c:1"
    assert free_worker(threads, ["tcp://c:1"]) == "tcp://c:1"
    assert free_worker(threads, ["tcp://c:1", "tcp://c:1", "tcp://a:1"]) == "tcp://b:1"
    assert free_worker(threads, ["tcp://c:1", "tcp://c:1", "tcp://a:1", "tcp://b:1"]) is None
    assert free_worker({}, []) is None  # no worker up: jobs wait in the registry

"""JobRunner.shutdown: every job process ends within a bound, even one that ignores SIGTERM, and
its job goes back to the queue."""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from typing import Any

import pytest

from shopfloor.jobs import runner
from shopfloor.settings import Settings


def _stubborn() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)


class _Job:
    cancel_requested = False
    attempts = 1
    tenant = request_id = None


class _Store:
    def __init__(self) -> None:
        self.finished: list[tuple[str, str]] = []
        self.requeued: list[str] = []
        self.closed = False

    def get_job(self, tenant: str | None, job_id: str) -> _Job:
        found = _Job()
        found.id = job_id  # type: ignore[attr-defined]
        return found

    def finish_job(self, job_id: str, status: str, **_: Any) -> None:
        self.finished.append((job_id, status))

    def requeue_job(self, job_id: str, worker: str | None, reason: str) -> bool:
        self.requeued.append(job_id)
        return True

    def close(self) -> None:
        self.closed = True


def test_shutdown_kills_what_sigterm_does_not_stop_and_hands_the_jobs_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "STOP_GRACE_S", 1.0)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_stubborn) for _ in range(2)]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # let them install the handler
    jobs = runner.JobRunner.__new__(runner.JobRunner)
    jobs.store = _Store()
    jobs.settings = Settings(job_drain_s=0)
    jobs.children = {f"job_{i}": (proc, None) for i, proc in enumerate(procs)}
    started = time.monotonic()
    jobs.shutdown()
    took = time.monotonic() - started
    assert not any(proc.is_alive() for proc in procs)
    assert took < 1.0 + 2 * 1.0 + 1.0  # one shared grace, then a kill each
    assert sorted(jobs.store.requeued) == ["job_0", "job_1"] and jobs.store.finished == []
    assert jobs.store.closed and jobs.children == {}

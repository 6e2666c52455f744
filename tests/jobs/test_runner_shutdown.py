"""JobRunner.shutdown: every job process ends within a bound, even one that ignores SIGTERM."""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from typing import Any

import pytest

from shopfloor.jobs import runner


def _stubborn() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)


class _Store:
    def __init__(self) -> None:
        self.finished: list[tuple[str, str]] = []
        self.closed = False

    def finish_job(self, job_id: str, status: str, **_: Any) -> None:
        self.finished.append((job_id, status))

    def close(self) -> None:
        self.closed = True


def test_shutdown_kills_what_sigterm_does_not_stop_and_fails_the_jobs(
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
    jobs.children = {f"job_{i}": (proc, None) for i, proc in enumerate(procs)}
    started = time.monotonic()
    jobs.shutdown()
    took = time.monotonic() - started
    assert not any(proc.is_alive() for proc in procs)
    assert took < 1.0 + 2 * 1.0 + 1.0  # one shared grace, then a kill each
    assert sorted(jobs.store.finished) == [("job_0", "failed"), ("job_1", "failed")]
    assert jobs.store.closed and jobs.children == {}

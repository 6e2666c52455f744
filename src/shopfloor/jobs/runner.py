"""Run queued jobs outside the API process: one child process per job, watched by a runner process.

The runner claims jobs from the registry (atomically, so two runners never take
the same job), starts a child per job, keeps its heartbeat fresh, and kills it
when a cancellation is not honoured in time. A child that dies without
finishing its job leaves the job failed, never "running" forever.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from shopfloor.errors import JobCancelled, ShopfloorError
from shopfloor.jobs.execution import CANCEL_GRACE_S, HOST, run_job
from shopfloor.lifecycle import process_alive
from shopfloor.privacy.log_masking import configure_process_logging
from shopfloor.settings import Settings, metrics_dir

if TYPE_CHECKING:
    from shopfloor.registry.store import JobStore

log = logging.getLogger(__name__)

#: Seconds the runner's job processes get to end after SIGTERM when the runner stops.
STOP_GRACE_S = 5.0


def _progress_fn(store: JobStore, job_id: str) -> Any:
    last_time, last_stage = [0.0], [""]

    def progress(fraction: float, stage: str, message: str) -> None:
        now = time.monotonic()
        # Throttle writes, but never drop a change of stage.
        if stage == last_stage[0] and now - last_time[0] < 0.5:
            return
        last_time[0], last_stage[0] = now, stage
        if store.report_progress(job_id, fraction, stage, message):
            raise JobCancelled("the job was cancelled")

    return progress


def execute(settings: Settings, job_id: str) -> None:
    """Child-process entry point: run one claimed job to a terminal state."""
    from shopfloor import metrics
    from shopfloor.context import Platform
    from shopfloor.lifecycle import die_with_parent

    die_with_parent()  # a job never outlives its runner, even one killed with SIGKILL
    configure_process_logging("%(asctime)s %(levelname)s job %(name)s: %(message)s")
    platform = Platform.from_settings(settings)
    metrics.share_through(metrics_dir(settings))
    store = platform.store
    job = store.get_job(None, job_id)
    started, outcome = time.monotonic(), "failed"
    try:
        outcome = run_job(platform, job, _progress_fn(store, job_id), store.finish_job)
    finally:
        metrics.RECORDER.job(job.tenant, job.type, outcome, time.monotonic() - started)
        metrics.RECORDER.flush()
        platform.close()


def recover(store: JobStore, settings: Settings) -> int:
    """Fail jobs left running by a dead process: ours on this host, or anyone's with a stale heartbeat."""
    n = 0
    for job_id, worker in _running_here(store):
        pid = int(worker.rsplit(":", 1)[1])
        if not process_alive(pid):
            store.finish_job(job_id, "failed", error="the server stopped while this job was running")
            n += 1
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.job_heartbeat_timeout_s)
    return n + store.fail_stale_jobs(cutoff, "the job's worker stopped sending heartbeats")


def _running_here(store: JobStore) -> list[tuple[str, str]]:
    return [(j, w) for j, w in store.running_jobs() if w and w.rsplit(":", 1)[0] == HOST]


class JobRunner:
    """Claims queued jobs and runs each in a child process, up to ``settings.job_workers`` at once."""

    def __init__(self, settings: Settings) -> None:
        from shopfloor.registry.store import open_store

        self.settings = settings
        self.store = open_store(settings.resolved_database_url)
        self.ctx = mp.get_context("spawn")
        self.children: dict[str, tuple[BaseProcess, float | None]] = {}

    def tick(self) -> None:
        self._reap()
        while len(self.children) < self.settings.job_workers:
            worker = f"{HOST}:{os.getpid()}"
            job = self.store.claim_job(worker)
            if job is None:
                break
            proc = self.ctx.Process(
                target=execute, args=(self.settings, job.id), name=f"job-{job.id}", daemon=False
            )
            proc.start()
            self.store.set_worker(job.id, f"{HOST}:{proc.pid}")
            self.children[job.id] = (proc, None)
            log.info("started job %s (%s) in process %s", job.id, job.type, proc.pid)

    def _reap(self) -> None:
        for job_id, (proc, cancel_seen) in list(self.children.items()):
            if not proc.is_alive():
                proc.join()
                job = self.store.get_job(None, job_id)
                if not job.terminal:
                    status = "cancelled" if job.cancel_requested else "failed"
                    self.store.finish_job(
                        job_id, status, error=f"the job process exited with code {proc.exitcode}"
                    )
                del self.children[job_id]
                continue
            if self.store.heartbeat(job_id):
                now = time.monotonic()
                if cancel_seen is None:
                    self.children[job_id] = (proc, now)
                elif now - cancel_seen > CANCEL_GRACE_S:
                    proc.terminate()
                    proc.join(5)
                    if proc.is_alive():
                        proc.kill()
                    self.store.finish_job(job_id, "cancelled", error="cancelled on request")

    def run(self, stop: Any = None) -> None:
        recover(self.store, self.settings)
        last_recover = time.monotonic()
        while stop is None or not stop.is_set():
            try:
                self.tick()
                if time.monotonic() - last_recover > self.settings.job_heartbeat_timeout_s / 2:
                    recover(self.store, self.settings)
                    last_recover = time.monotonic()
            except ShopfloorError as exc:
                log.warning("job runner: %s", exc.detail)
            time.sleep(self.settings.job_poll_interval_s)
        self.shutdown()

    def shutdown(self) -> None:
        """Stop every job process within a bounded time and mark its job failed."""
        for proc, _ in self.children.values():
            proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for proc, _ in self.children.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1)
        for job_id in list(self.children):
            try:
                self.store.finish_job(job_id, "failed", error="the server stopped while this job was running")
            except ShopfloorError as exc:  # the registry may be gone too; recover() settles it at start
                log.warning("job runner: %s", exc.detail)
        self.children.clear()
        self.store.close()


def runner_main(settings: Settings) -> None:
    """Entry point of the runner process started by ``shopfloor serve``.

    Stops on SIGTERM or SIGINT, and when ``serve`` dies (see :mod:`shopfloor.lifecycle`).
    """
    import signal
    import threading

    from shopfloor.lifecycle import die_with_parent

    # A thread event, not a multiprocessing one: nothing to register with the resource tracker.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    die_with_parent(grace_s=STOP_GRACE_S + 5.0)
    configure_process_logging("%(asctime)s %(levelname)s runner: %(message)s")
    if settings.dask_scheduler:  # jobs run on the cluster's workers; this process dispatches them
        from shopfloor.jobs.dask_runner import DaskDispatcher

        DaskDispatcher(settings).run(stop)
    else:
        JobRunner(settings).run(stop)

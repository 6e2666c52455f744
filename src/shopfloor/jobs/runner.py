"""Run queued jobs outside the API process: one child process per job, watched by a runner process.

The runner claims jobs from the registry (atomically, so two runners never take
the same job), starts a child per job, keeps its heartbeat fresh, and kills it
when a cancellation is not honoured in time. A child that dies without
finishing its job leaves the job failed, never "running" forever.

On SIGTERM the runner drains: it claims nothing more and gives its running jobs up to
``settings.job_drain_s`` to finish (heartbeats kept fresh meanwhile); a job still running then
is stopped and handed back to the queue (queued again, its attempt counted), so that the next
runner starts it afresh. The hand-back is a conditional update: a job is requeued exactly once,
and never after it has ended.

A job process logs under the job's id, tenant and the id of the request that queued it, and,
with tracing on, runs inside a span that is a child of that request's span.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import time
import traceback
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from shopfloor.errors import JobCancelled, ShopfloorError
from shopfloor.lifecycle import process_alive
from shopfloor.privacy.log_masking import configure_process_logging
from shopfloor.settings import Settings, metrics_dir
from shopfloor.telemetry import tracing
from shopfloor.telemetry.logcontext import LogContext, bind, unbind

if TYPE_CHECKING:
    from shopfloor.registry.entities import Job
    from shopfloor.registry.store import JobStore

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 3.0
JOB_FORMAT = "%(asctime)s %(levelname)s job %(name)s: %(message)s"
RUNNER_FORMAT = "%(asctime)s %(levelname)s runner: %(message)s"
HANDED_BACK = "handed back to the queue: the server stopped before the job finished"
#: Seconds the runner's job processes get to end after SIGTERM when the runner stops.
STOP_GRACE_S = 5.0
HOST = socket.gethostname()


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
    from shopfloor.jobs.handlers import HANDLERS
    from shopfloor.lifecycle import die_with_parent

    die_with_parent()  # a job never outlives its runner, even one killed with SIGKILL
    json_role = "job" if settings.log_format == "json" else None
    configure_process_logging(JOB_FORMAT, json_role=json_role)
    platform = Platform.from_settings(settings)
    metrics.share_through(metrics_dir(settings))
    store = platform.store
    job = store.get_job(None, job_id)
    token = bind(LogContext(request_id=job.request_id, tenant=job.tenant, job_id=job.id))
    traces = tracing.configure(settings, "job")
    try:
        if traces is None:
            _run(platform, job, HANDLERS[job.type])
        else:
            with traces.job_span(
                job.trace_context,
                f"job {job.type}",
                job_id=job.id,
                job_type=job.type,
                tenant=job.tenant,
                request_id=job.request_id,
                attempt=job.attempts,
            ) as span:
                outcome = _run(platform, job, HANDLERS[job.type])
                span.set_attribute("shopfloor.outcome", outcome)
    finally:
        platform.close()
        if traces is not None:
            traces.shutdown()
        unbind(token)  # a job run in-process (tests) leaves the caller's context as it was


def _run(platform: Any, job: Any, handler: Any) -> str:
    """Run ``job`` with its handler to a terminal state, recorded in the registry; returns that state."""
    from shopfloor import metrics

    store, job_id = platform.store, job.id
    started, outcome = time.monotonic(), "failed"
    try:
        result = handler(platform, job, _progress_fn(store, job_id))
        store.finish_job(job_id, "succeeded", result=result)
        outcome = "succeeded"
    except JobCancelled:
        store.finish_job(job_id, "cancelled", error="cancelled on request")
        outcome = "cancelled"
    except ShopfloorError as exc:
        store.finish_job(job_id, "failed", error=exc.detail)
    except Exception as exc:  # noqa: BLE001 - a job must end in a terminal state whatever broke
        log.error("job %s crashed:\n%s", job_id, traceback.format_exc())
        store.finish_job(job_id, "failed", error=f"internal error: {type(exc).__name__}: {exc}")
    finally:
        metrics.RECORDER.job(job.tenant, job.type, outcome, time.monotonic() - started)
        metrics.RECORDER.flush()
    return outcome


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
            log.info("started job %s (%s) in process %s", job.id, job.type, proc.pid, extra=_about(job))

    def _reap(self, draining: bool = False) -> None:
        for job_id, (proc, cancel_seen) in list(self.children.items()):
            if not proc.is_alive():
                proc.join()
                job = self.store.get_job(None, job_id)
                if not job.terminal and draining and not job.cancel_requested:
                    # stopped by the shutdown (e.g. a signal to the whole process group): run again
                    self._hand_back(job_id, proc)
                elif not job.terminal:
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
        """Drain: give running jobs up to ``settings.job_drain_s`` to finish, then stop those still
        running within a bounded time and hand them back to the queue."""
        self._drain(self.settings.job_drain_s)
        for proc, _ in self.children.values():
            proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for proc, _ in self.children.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1)
        for job_id, (proc, _) in list(self.children.items()):
            self._hand_back(job_id, proc)
        self.children.clear()
        self.store.close()

    def _drain(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the running jobs to end, reaping them and keeping heartbeats."""
        if not self.children or seconds <= 0:
            return
        log.info("stopping: waiting up to %gs for %d running job(s)", seconds, len(self.children))
        deadline = time.monotonic() + seconds
        while self.children and time.monotonic() < deadline:
            try:
                self._reap(draining=True)
            except ShopfloorError as exc:
                log.warning("job runner: %s", exc.detail)
                return
            time.sleep(min(self.settings.job_poll_interval_s, max(0.0, deadline - time.monotonic())))

    def _hand_back(self, job_id: str, proc: BaseProcess) -> None:
        """Requeue a job the shutdown stopped; a job that ended or was cancelled meanwhile is left
        to its state (cancelled, when it was asked to)."""
        try:
            job = self.store.get_job(None, job_id)
            if job.cancel_requested:
                self.store.finish_job(job_id, "cancelled", error="cancelled on request")
            elif self.store.requeue_job(job_id, f"{HOST}:{proc.pid}", HANDED_BACK):
                log.warning(
                    "job %s handed back to the queue (attempt %d)", job_id, job.attempts, extra=_about(job)
                )
        except ShopfloorError as exc:  # the registry may be gone too; recover() settles it at start
            log.warning("job runner: %s", exc.detail)


def _about(job: Job) -> dict[str, str | None]:
    """The log context of a runner's line about ``job``."""
    return {"job_id": job.id, "tenant": job.tenant, "request_id": job.request_id}


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
    die_with_parent(grace_s=settings.job_drain_s + STOP_GRACE_S + 5.0)
    configure_process_logging(RUNNER_FORMAT, json_role="runner" if settings.log_format == "json" else None)
    JobRunner(settings).run(stop)

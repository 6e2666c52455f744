"""Jobs on a Dask cluster: a dispatcher submits queued jobs, the cluster's workers run them.

Chosen by the runner entry point when ``SHOPFLOOR_DASK_SCHEDULER`` is set. The registry stays the
source of truth: a job is submitted under a key derived from its id, and the task claims the job
in the registry before it runs it (:meth:`~shopfloor.registry.sql_attempts.AttemptTables.claim_attempt`),
so a second submission of the same job finds it claimed and does nothing. The running task keeps
a lease (the job's heartbeat); when its worker dies, Dask runs the task again elsewhere and that
run takes the job over once the lease has expired, at most :data:`MAX_ATTEMPTS` runs in all, then
the job fails with the reason. Every write of a run carries its attempt number: exactly once in
effect. After a scheduler restart the dispatcher submits again every job still queued.

The dispatcher never has more jobs on the cluster than the cluster has threads (its job slots, read
from the scheduler at every tick), and places each job on a worker with a thread no other job
holds: a job that waits for the parts it fanned out over the cluster
(:func:`shopfloor.parallel.fan_out`) secedes from its worker's thread, and that thread then runs
parts (of this job or another running one, ahead of any job), never a second job whose time budget
would run while this one waits, or which would keep this one from getting its thread back. A job
queued beyond the slots stays queued in the registry until one frees.

Workers need the Shopfloor package and the same ``SHOPFLOOR_`` settings (home, registry and
artifact URLs, keys) as the server: ``dask worker tcp://scheduler:8786 --nthreads 1 --preload
shopfloor.jobs.dask_preload`` (the preload imports the libraries the parts use once, at start).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shopfloor.errors import JobCancelled, ShopfloorError
from shopfloor.jobs.execution import CANCEL_GRACE_S, HOST, run_job
from shopfloor.parallel import watch
from shopfloor.settings import Settings, get_settings
from shopfloor.telemetry.logcontext import LogContext, bind, unbind

if TYPE_CHECKING:
    from distributed import Client, Future

    from shopfloor.context import Platform
    from shopfloor.registry.store import JobStore

log = logging.getLogger(__name__)

#: Runs of one job at most: the first, and one more when the first one's worker died.
MAX_ATTEMPTS = 2
#: Seconds the dispatcher waits for the scheduler when it connects.
CONNECT_TIMEOUT_S = 5.0
KEY_PREFIX = "shopfloor-job-"
#: Dask priority of a job's task: below the parts that running jobs fan out (``parallel.ITEM_PRIORITY``).
JOB_PRIORITY = 0

_platform_lock = threading.Lock()
_platform: Platform | None = None


def job_key(job_id: str) -> str:
    """The Dask key of a job's task: one task per job on the scheduler."""
    return f"{KEY_PREFIX}{job_id}"


def free_worker(threads: dict[str, int], placed: list[str]) -> str | None:
    """The worker with the most threads no job was placed on (``placed``: the worker of each job on
    the cluster), None when every thread has its job."""
    free = {w: n - placed.count(w) for w, n in threads.items()}
    best = max(free, key=lambda w: (free[w], w), default=None)
    return best if best is not None and free[best] > 0 else None


def lease_interval(settings: Settings) -> float:
    """Seconds between two heartbeats of a running task: several per heartbeat timeout."""
    return max(0.2, min(5.0, settings.job_heartbeat_timeout_s / 4))


def _worker_platform() -> Platform:
    """One platform per worker process, from the worker's own ``SHOPFLOOR_`` environment."""
    global _platform
    from shopfloor.context import Platform

    with _platform_lock:
        if _platform is None:
            _platform = Platform.from_settings(get_settings())
        return _platform


def run_on_worker(job_id: str) -> str:
    """The Dask task of one job: claim it, run it, record its end; returns the outcome, or
    ``skipped`` when the job was not this run's to do (finished, cancelled or owned elsewhere)."""
    platform = _worker_platform()
    store, settings = platform.store, platform.settings
    attempt = _claim(store, settings, job_id)
    if attempt is None:
        return "skipped"
    lost = threading.Event()  # the lease was lost or cancellation was asked: stop at the next step
    done = threading.Event()
    keeper = threading.Thread(
        target=_keep_lease, args=(store, job_id, attempt, lease_interval(settings), lost, done), daemon=True
    )
    keeper.start()
    try:
        job = store.get_job(None, job_id)

        def progress(fraction: float, stage: str, message: str) -> None:
            if lost.is_set() or store.report_progress(job_id, fraction, stage, message):
                raise JobCancelled("the job was cancelled")

        def finish(_: str, status: str, **kw: Any) -> None:
            store.finish_attempt(job_id, attempt, status, **kw)

        token = bind(LogContext(request_id=job.request_id, tenant=job.tenant, job_id=job.id))
        try:
            log.info("job %s (%s): attempt %d on %s:%d", job_id, job.type, attempt, HOST, os.getpid())
            with watch(lost.is_set):  # a job waiting for its parts stops at a cancellation
                return run_job(platform, job, progress, finish)
        finally:
            unbind(token)
    finally:
        done.set()
        keeper.join(5)


def _claim(store: JobStore, settings: Settings, job_id: str) -> int | None:
    """This run's attempt number; waits while another run holds a fresh lease on the job (the run
    of a worker that died a moment ago holds it until it expires)."""
    timeout = settings.job_heartbeat_timeout_s
    worker = f"{HOST}:{os.getpid()}"
    while True:
        expired = datetime.now(UTC) - timedelta(seconds=timeout)
        attempt = store.claim_attempt(job_id, worker, lease_expired_before=expired, max_attempts=MAX_ATTEMPTS)
        if attempt is not None:
            return attempt
        job = store.get_job(None, job_id)
        if job.status != "running" or job.heartbeat_at is None:
            return None
        left = (job.heartbeat_at - expired).total_seconds()
        time.sleep(min(max(left, 0.1) + 0.05, lease_interval(settings)))


def _keep_lease(
    store: JobStore, job_id: str, attempt: int, every: float, lost: threading.Event, done: threading.Event
) -> None:
    while not done.wait(every):
        try:
            if not store.renew_lease(job_id, attempt):
                lost.set()
        except ShopfloorError as exc:  # the registry may be away a moment; the lease has slack
            log.warning("job %s: heartbeat failed: %s", job_id, exc.detail)


class DaskDispatcher:
    """Submits queued jobs to the scheduler, cancels on request, and settles jobs Dask gave up on."""

    def __init__(self, settings: Settings) -> None:
        from shopfloor.registry.store import open_store

        assert settings.dask_scheduler, "the dispatcher needs SHOPFLOOR_DASK_SCHEDULER"
        self.settings = settings
        self.store = open_store(settings.resolved_database_url)
        self.client: Client | None = None
        #: job id -> its future and when a cancellation was first seen
        self.futures: dict[str, tuple[Future, float | None]] = {}
        #: job id -> the worker its task was placed on
        self.placed: dict[str, str] = {}

    def tick(self) -> None:
        client = self._connected()
        if client is None:
            return
        self._watch()
        self.placed = {j: w for j, w in self.placed.items() if j in self.futures}
        threads = client.nthreads()
        for job_id in self.store.queued_job_ids():
            if job_id in self.futures:
                continue
            # a job placed on a worker that is gone runs again elsewhere: it still holds a thread
            worker = free_worker(threads, list(self.placed.values()))
            if worker is None or len(self.futures) >= sum(threads.values()):
                break  # the others wait in the registry: no job waits on the scheduler for a thread
            # On the worker with a thread no job holds: never on the thread a job lent to its parts
            # (it could not get it back until this job ended). Elsewhere if that worker is gone.
            future = client.submit(
                run_on_worker,
                job_id,
                key=job_key(job_id),
                pure=False,
                priority=JOB_PRIORITY,
                workers=[worker],
                allow_other_workers=True,
            )
            self.futures[job_id] = (future, None)
            self.placed[job_id] = worker
            log.info("submitted job %s to %s (worker %s)", job_id, self.settings.dask_scheduler, worker)

    def _connected(self) -> Client | None:
        """The client, connected; a new one (and no futures) after the scheduler was lost."""
        from distributed import Client

        if self.client is not None and self.client.status != "running":
            log.warning("lost the Dask scheduler at %s; reconnecting", self.settings.dask_scheduler)
            self._drop_client()
        if self.client is None:
            try:
                self.client = Client(
                    self.settings.dask_scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                log.warning("cannot reach the Dask scheduler at %s: %s", self.settings.dask_scheduler, exc)
                return None
            # Tasks of a former scheduler are gone with it: queued jobs are submitted again.
            self.futures.clear()
        return self.client

    def _drop_client(self) -> None:
        client, self.client = self.client, None
        self.futures.clear()
        if client is not None:
            try:
                client.close(timeout=2)
            except Exception as exc:  # noqa: BLE001 - a client of a dead scheduler may fail to close
                log.debug("closing the Dask client: %s", exc)

    def _watch(self) -> None:
        for job_id, (future, cancel_seen) in list(self.futures.items()):
            job = self.store.get_job(None, job_id)
            if future.status in ("finished", "cancelled", "lost"):
                del self.futures[job_id]  # a queued job whose task was lost is submitted again
            elif future.status == "error":
                del self.futures[job_id]
                if not job.terminal:
                    reason = f"the job could not run on the Dask cluster: {future.exception()!r}"
                    self.store.finish_job(job_id, "failed", error=reason)
            elif job.terminal and job.status == "cancelled":
                future.cancel()  # cancelled while queued: the task must not start
                del self.futures[job_id]
            elif job.cancel_requested:
                now = time.monotonic()
                if cancel_seen is None:
                    future.cancel()
                    self.futures[job_id] = (future, now)
                elif now - cancel_seen > CANCEL_GRACE_S:
                    # A task in a thread cannot be killed: its writes are fenced off from here on.
                    self.store.finish_job(job_id, "cancelled", error="cancelled on request")
                    del self.futures[job_id]

    def sweep(self) -> int:
        """Fail running jobs whose heartbeat stopped long ago (no run of theirs is left anywhere)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=2 * self.settings.job_heartbeat_timeout_s + 5)
        return self.store.fail_stale_jobs(cutoff, "the job's worker stopped sending heartbeats")

    def run(self, stop: Any = None) -> None:
        last_sweep = 0.0
        while stop is None or not stop.is_set():
            try:
                self.tick()
                if time.monotonic() - last_sweep > self.settings.job_heartbeat_timeout_s / 2:
                    self.sweep()
                    last_sweep = time.monotonic()
            except ShopfloorError as exc:
                log.warning("job dispatcher: %s", exc.detail)
            except (OSError, TimeoutError) as exc:  # the scheduler went away mid-call
                log.warning("job dispatcher: %s", exc)
                self._drop_client()
            time.sleep(self.settings.job_poll_interval_s)
        self.shutdown()

    def shutdown(self) -> None:
        """Stop dispatching. Jobs running on the workers go on; queued ones wait for the next start."""
        self._drop_client()
        self.store.close()

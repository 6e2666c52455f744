"""Independent parts of one job, run in order here or spread over the Dask cluster the job runs on.

:func:`fan_out` maps a function over items. Outside a Dask worker it is the plain loop of a local
job. Inside a job's Dask task (:mod:`shopfloor.jobs.dask_runner`) each item becomes a plain Dask
task of its own, at :data:`ITEM_PRIORITY` (above the jobs' 0), and the job's task secedes from its
worker's thread pool while it waits, so that on ``--nthreads 1`` workers its own thread runs items
too. Seceding is safe because the dispatcher never has more jobs on the cluster than the cluster
has threads, each placed on a thread no other job holds: no other job takes the lent thread (its
time budget would run meanwhile, and the lender would get its thread back only when it ended).
Inside an item, :func:`fan_out` is the plain loop again (an item never waits on other items).

Both paths give the same results in the same order: ``fn`` must depend only on its item and what
it closes over (seeds included), never on process state. The caller keeps time and progress:
``before(i)`` runs in the job right before item ``i`` starts (locally) or is submitted (on the
cluster) and may return False to skip it (a deadline) or raise (a cancellation); ``after(i,
result)`` sees each result as it arrives. At most as many items are in flight as the cluster has
threads, so a submitted item starts at once and a deadline checked in ``before`` means what it
means locally. An item reads the job's ``deadline`` with :func:`deadline` (a ``time.perf_counter``
value of the process it runs in: the instant crosses machines as wall-clock time).

Errors: the first in item order propagates. A project error (:class:`ShopfloorError`) raised by an
item propagates as it is, as locally; any other failure of an item (its exception, or its worker
lost) fails the job with :class:`PartFailed`, naming the part and where it ran. When the job is
cancelled (the check registered with :func:`watch` says so) its items are cancelled on the
scheduler and :class:`JobCancelled` is raised; an item already running ends on its own (a thread
cannot be killed; its result is dropped).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from shopfloor.errors import JobCancelled, PartFailed, ShopfloorError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Dask priority of an item (jobs have 0): a free thread goes to the items of running jobs first.
ITEM_PRIORITY = 10
#: Seconds between two checks for a cancellation while the job waits for its items.
POLL_S = 0.25


class _Skipped:
    def __repr__(self) -> str:
        return "SKIPPED"


#: The result of an item that ``before`` skipped.
SKIPPED: Any = _Skipped()

_here = threading.local()  # .item: running a fan-out item; .deadline; .cancelled: the job's check


def on_cluster() -> bool:
    """Whether :func:`fan_out` spreads items over the cluster here: inside a Dask worker task that
    is not itself an item."""
    if getattr(_here, "item", False):
        return False
    try:
        from distributed import get_worker
    except ImportError:  # Dask is an optional extra: without it every job runs locally
        return False
    try:
        get_worker()
    except ValueError:  # "No worker found": not in a worker task
        return False
    return True


@contextmanager
def watch(cancelled: Callable[[], bool]) -> Iterator[None]:
    """While inside, a job waiting for its items on the cluster stops (items cancelled,
    :class:`JobCancelled` raised) as soon as ``cancelled()`` says so."""
    before = getattr(_here, "cancelled", None)
    _here.cancelled = cancelled
    try:
        yield
    finally:
        _here.cancelled = before


def width() -> int:
    """How many items :func:`fan_out` runs at once here: the cluster's threads, or 1 locally."""
    if not on_cluster():
        return 1
    from distributed import get_client

    return max(1, sum(get_client().nthreads().values()))


def deadline() -> float | None:
    """The deadline of the fan-out whose item runs now, as a ``time.perf_counter`` value here."""
    return getattr(_here, "deadline", None)


def fan_out(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    before: Callable[[int], bool] | None = None,
    after: Callable[[int, R], None] | None = None,
    name: str = "part",
    until: float | None = None,
) -> list[R]:
    """``[fn(item) for item in items]``, each item a Dask task when inside a job's worker task.

    ``until`` (a ``time.perf_counter`` value) is what :func:`deadline` tells the items. On the
    cluster item ``i`` is the task ``{name}-{i}-{random hex}`` (shown so on the dashboard).
    ``before(i)`` returns False to skip item ``i``, whose result is then :data:`SKIPPED`;
    ``after(i, result)`` sees each result. Both run in the job, in item order locally, in
    submission and completion order on the cluster.
    """
    if not items:
        return []
    if on_cluster():
        return _on_cluster(fn, items, before, after, name, until)
    return _locally(fn, items, before, after, until)


def _locally(
    fn: Callable[[T], R],
    items: Sequence[T],
    before: Callable[[int], bool] | None,
    after: Callable[[int, R], None] | None,
    until: float | None,
) -> list[R]:
    results: list[Any] = []
    outer = getattr(_here, "deadline", None)
    _here.deadline = until
    try:
        for i, item in enumerate(items):
            if before is not None and not before(i):
                results.append(SKIPPED)
                continue
            result = fn(item)
            if after is not None:
                after(i, result)
            results.append(result)
    finally:
        _here.deadline = outer
    return results


def _item(fn: Callable[[T], R], item: T, wall: float | None, about: str) -> R:
    """One item, in a worker thread: nested fan-outs run locally, the deadline made local; a failure
    that is not a project error becomes :class:`PartFailed`, naming the part and the worker."""
    from distributed import get_worker

    _here.item = True
    _here.deadline = None if wall is None else time.perf_counter() + (wall - time.time())
    try:
        return fn(item)
    except ShopfloorError:
        raise
    except Exception as exc:
        log.exception("%s failed", about)
        raise PartFailed(f"{about} failed on {get_worker().address}: {type(exc).__name__}: {exc}") from exc
    finally:
        _here.item, _here.deadline = False, None


def _on_cluster(
    fn: Callable[[T], R],
    items: Sequence[T],
    before: Callable[[int], bool] | None,
    after: Callable[[int, R], None] | None,
    name: str,
    until: float | None,
) -> list[R]:
    from distributed import worker_client

    wall = None if until is None else time.time() + (until - time.perf_counter())
    cancelled: Callable[[], bool] = getattr(_here, "cancelled", None) or (lambda: False)
    with worker_client() as client:  # secedes now (the thread runs items meanwhile), rejoins on leaving
        slots = max(1, sum(client.nthreads().values()))
        run = _Run(client, fn, items, name, wall)
        try:
            run.loop(slots, before, after, cancelled)
        except BaseException:
            run.cancel_all()
            raise
    return run.results


class _Run:
    """The state of one fan-out on the cluster: its futures in flight, results and failures."""

    def __init__(
        self, client: Any, fn: Callable[..., Any], items: Sequence[Any], name: str, wall: float | None
    ):
        self.client, self.fn, self.items, self.name, self.wall = client, fn, items, name, wall
        self.results: list[Any] = [SKIPPED] * len(items)
        self.running: dict[Any, int] = {}  # future -> item index
        self.failed: dict[int, BaseException] = {}

    def loop(
        self,
        slots: int,
        before: Callable[[int], bool] | None,
        after: Callable[[int, Any], None] | None,
        cancelled: Callable[[], bool],
    ) -> None:
        from distributed import wait

        following, n = 0, len(self.items)
        while following < n or self.running:
            if cancelled():
                raise JobCancelled("the job was cancelled")
            while following < n and len(self.running) < slots and not self.failed:
                i, following = following, following + 1
                if before is None or before(i):
                    self._submit(i)
            if self.failed:
                following = n  # locally nothing after a failure would start
            if not self.running:
                continue
            try:
                done, _ = wait(list(self.running), timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # none finished yet: look for a cancellation again
                continue
            for future in done:
                self._collect(future, after)
        if self.failed:
            raise self.failed[min(self.failed)]

    def _submit(self, i: int) -> None:
        key = f"{self.name}-{i}-{uuid.uuid4().hex}"
        future = self.client.submit(
            _item,
            self.fn,
            self.items[i],
            self.wall,
            self._about(i),
            key=key,
            priority=ITEM_PRIORITY,
            pure=False,
        )
        self.running[future] = i

    def _collect(self, future: Any, after: Callable[[int, Any], None] | None) -> None:
        if future not in self.running:  # cancelled after an earlier item failed
            return
        i = self.running.pop(future)
        if future.status == "finished":
            if not any(j < i for j in self.failed):
                self.results[i] = future.result()
                if after is not None:
                    after(i, self.results[i])
        else:
            self.failed[i] = self._failure(i, future)
            for other, j in list(self.running.items()):  # later items cannot change which error is first
                if j > i:
                    other.cancel()
                    del self.running[other]
        # the result is here now: the cluster forgets it at once, not when the future is collected
        future.release()

    def _about(self, i: int) -> str:
        return f"{self.name} {i + 1} of {len(self.items)} of this job"

    def _failure(self, i: int, future: Any) -> BaseException:
        if future.status == "error":
            exc = future.exception()
            if isinstance(exc, ShopfloorError):  # the item's own, or PartFailed from _item
                return exc
            # the item never ended on a worker: KilledWorker (its workers died), a lost scheduler
            return PartFailed(f"{self._about(i)} did not finish on the cluster: {type(exc).__name__}: {exc}")
        return PartFailed(f"{self._about(i)} did not finish on the cluster: its task was {future.status}")

    def cancel_all(self) -> None:
        futures = list(self.running)
        self.running.clear()
        if futures:
            try:
                self.client.cancel(futures)
            except Exception as exc:  # noqa: BLE001 - a lost scheduler has forgotten them anyway
                log.warning("cancelling %d %s task(s): %s", len(futures), self.name, exc)

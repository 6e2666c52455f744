"""Independent pieces of one job, run in order here or spread over the Dask cluster the job runs on.

:func:`fan_out` maps a function over items. Outside a Dask worker it is a plain loop in this
process (the behaviour of a local job). Inside a Dask worker task (a job of
:mod:`shopfloor.jobs.dask_runner`) it submits the items to the cluster through
``distributed.worker_client()``, which secedes the calling task from its worker's thread pool while
it waits (on a ``--nthreads 1`` worker the job would otherwise hold the only slot and its own
items could never start there), and rejoins when they are in.

Both paths give the same results in the same order: the function must depend only on its item and
the values it closes over (seeds included), never on process state. The caller keeps control of
time and progress: ``before(i)`` runs here, in the calling task, right before item ``i`` starts
(locally) or is submitted (cluster), and may return False to skip it (a deadline) or raise (a
cancellation); ``after(i, result)`` runs here as each item's result arrives. On the cluster at
most as many items are in flight as the cluster has worker threads, so an item is submitted only
when it can start, and a deadline checked in ``before`` means what it means locally.

The first exception in item order propagates (items after it that are still running are
cancelled); an exception of ``before`` or ``after`` cancels every item in flight.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Skipped:
    def __repr__(self) -> str:
        return "SKIPPED"


#: Dask priority of an item (queued jobs have 0): a free slot goes to items of running jobs first.
ITEM_PRIORITY = 10

#: The result of an item that ``before`` skipped.
SKIPPED: Any = _Skipped()


def on_cluster() -> bool:
    """Whether this code runs inside a Dask worker task, so that :func:`fan_out` spreads its items."""
    try:
        from distributed import get_worker
    except ImportError:  # Dask is an optional extra: without it every job runs locally
        return False
    try:
        get_worker()
    except ValueError:  # "No worker found": not in a worker task
        return False
    return True


def wall_deadline(deadline: float | None) -> float | None:
    """A ``time.perf_counter`` deadline of this process as a wall-clock (``time.time``) instant,
    which another process, on another machine, can read with :func:`local_deadline`."""
    return None if deadline is None else time.time() + (deadline - time.perf_counter())


def local_deadline(wall: float | None) -> float | None:
    """The ``time.perf_counter`` value of this process at wall-clock instant ``wall``."""
    return None if wall is None else time.perf_counter() + (wall - time.time())


def fan_out(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    before: Callable[[int], bool] | None = None,
    after: Callable[[int, R], None] | None = None,
    name: str = "item",
) -> list[R]:
    """``[fn(item) for item in items]``, spread over the cluster when inside a Dask worker task.

    On the cluster item ``i`` is the task ``{name}-{i}-{random hex}`` (what the dashboard and the
    task stream show).

    ``before(i)`` (optional) returns False to skip item ``i``, whose result is then
    :data:`SKIPPED`; ``after(i, result)`` (optional) sees each result as it arrives. Both run in
    the calling task, in item order locally, in submission and completion order on the cluster.
    """
    if not items:
        return []
    if on_cluster():
        return _on_cluster(fn, items, before, after, name)
    results: list[Any] = []
    for i, item in enumerate(items):
        if before is not None and not before(i):
            results.append(SKIPPED)
            continue
        result = fn(item)
        if after is not None:
            after(i, result)
        results.append(result)
    return results


def _on_cluster(
    fn: Callable[[T], R],
    items: Sequence[T],
    before: Callable[[int], bool] | None,
    after: Callable[[int, R], None] | None,
    name: str,
) -> list[R]:
    from distributed import wait, worker_client

    results: list[Any] = [SKIPPED] * len(items)
    with worker_client() as client:  # secedes now, rejoins on leaving
        slots = max(1, sum(client.nthreads().values()))
        running: dict[Any, int] = {}  # future -> item index
        failed: dict[int, BaseException] = {}
        try:
            following = 0
            while following < len(items) or running:
                while following < len(items) and len(running) < slots and not failed:
                    i, following = following, following + 1
                    if before is None or before(i):
                        key = f"{name}-{i}-{uuid.uuid4().hex}"
                        # ahead of queued jobs: the slot the job gave up is for its own items
                        running[client.submit(fn, items[i], key=key, priority=ITEM_PRIORITY)] = i
                if following < len(items) and failed:
                    following = len(items)  # sequentially nothing after a failure would start
                if not running:
                    continue
                done, _ = wait(list(running), return_when="FIRST_COMPLETED")
                for future in done:
                    if future not in running:  # cancelled above, after an earlier item failed
                        continue
                    i = running.pop(future)
                    if future.status == "error":
                        failed[i] = future.exception()
                        # later items cannot change which error comes first: stop them
                        for other, j in list(running.items()):
                            if j > i:
                                other.cancel()
                                del running[other]
                    elif i not in failed and not any(j < i for j in failed):
                        results[i] = future.result()
                        if after is not None:
                            after(i, results[i])
        except BaseException:
            for future in running:
                future.cancel()
            raise
    if failed:
        raise failed[min(failed)]
    return results

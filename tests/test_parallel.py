"""fan_out: the plain loop outside a Dask worker; inside a worker task, items as tasks of their own
on two single-thread workers in this process, with the same results, order, skips and errors.
(Jobs fanning out through the dispatcher: tests/jobs/test_fan_out.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shopfloor.errors import InvalidInput, JobCancelled, PartFailed
from shopfloor.parallel import SKIPPED, deadline, fan_out, on_cluster, watch, width


def square(x: int) -> int:
    return x * x


def test_outside_a_worker_it_is_a_plain_map() -> None:
    assert not on_cluster() and width() == 1
    items = [3, 1, 4, 1, 5, 9, 2, 6]
    assert fan_out(square, items) == list(map(square, items))
    assert fan_out(square, []) == []


def test_before_and_after_run_in_item_order_and_before_can_skip() -> None:
    calls: list[tuple[str, int]] = []

    def before(i: int) -> bool:
        calls.append(("before", i))
        return i != 2

    def after(i: int, result: int) -> None:
        calls.append(("after", i))
        assert result == square(i + 1)

    assert fan_out(square, [1, 2, 3, 4], before=before, after=after) == [1, 4, SKIPPED, 16]
    assert calls == [("before", 0), ("after", 0), ("before", 1), ("after", 1), ("before", 2)] + [
        ("before", 3),
        ("after", 3),
    ]


def test_the_first_error_propagates_and_nothing_after_it_runs() -> None:
    ran: list[int] = []

    def fragile(x: int) -> int:
        ran.append(x)
        if x % 2 == 0:
            raise ValueError(f"item {x}")
        return x

    with pytest.raises(ValueError, match="item 2"):
        fan_out(fragile, [1, 2, 3, 4])
    assert ran == [1, 2]


def test_items_read_the_deadline_of_their_fan_out() -> None:
    until = time.perf_counter() + 5
    assert deadline() is None
    assert fan_out(lambda _: deadline(), [0, 1], until=until) == [until, until]
    assert deadline() is None


# -- inside a worker task: two single-thread workers in this process ------------------------------


def _slow_square(x: int) -> int:
    time.sleep(0.05)
    if x < 0:
        raise ValueError(f"negative {x}")
    if x == 13:
        raise InvalidInput("thirteen is not allowed")
    return x * x


def _nested(x: int) -> tuple[bool, list[int]]:
    return on_cluster(), fan_out(square, [x, x + 1])  # inside an item: the plain loop


def _in_a_task(items: list[int], skip: int | None = None, fn: Any = _slow_square) -> tuple[bool, list[Any]]:
    seen: list[int] = []
    out = fan_out(fn, items, before=lambda i: i != skip, after=lambda i, _: seen.append(i), name="item")
    assert sorted(seen) == [i for i in range(len(items)) if i != skip]
    return on_cluster(), [None if r is SKIPPED else r for r in out]


def _deadline_in_a_task(seconds: float) -> list[float | None]:
    until = time.perf_counter() + seconds
    remaining = fan_out(lambda _: (deadline() or 0) - time.perf_counter(), [0, 1, 2], until=until)
    return [round(r) for r in remaining]


def _cancelled_in_a_task(after_s: float) -> None:
    started = time.monotonic()
    with watch(lambda: time.monotonic() - started > after_s):
        fan_out(time.sleep, [1.0] * 20, name="sleep")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    from shopfloor.jobs.dask_preload import preload

    preload()  # as a worker does at start: the two workers of this process never import at once
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def test_inside_a_worker_task_the_items_run_on_both_workers_in_order(dask_client: Any) -> None:
    items = list(range(12))
    dask_client.get_task_stream()  # the scheduler records the task stream from here on
    started = time.time()
    clustered, out = dask_client.submit(_in_a_task, items).result()
    assert clustered and out == [x * x for x in items]
    # the calling task seceded (one thread per worker): its items ran on both workers
    stream = dask_client.get_task_stream(start=started)
    assert len({t["worker"] for t in stream if str(t["key"]).startswith("item-")}) == 2
    assert dask_client.submit(_in_a_task, [5, 6, 7], 1).result() == (True, [25, None, 49])
    # an item's own fan-out is the plain loop in that item
    assert dask_client.submit(_in_a_task, [2], fn=_nested).result() == (True, [(False, [4, 9])])
    assert dask_client.submit(width).result() == 2


def test_inside_a_worker_task_items_get_the_remaining_deadline(dask_client: Any) -> None:
    assert dask_client.submit(_deadline_in_a_task, 30.0).result() == [30, 30, 30]


def test_a_failing_item_fails_with_its_part_and_worker_named(dask_client: Any) -> None:
    with pytest.raises(
        PartFailed, match=r"item 2 of 5 of this job failed on [a-z]+://\S+: ValueError: negative -2"
    ):
        dask_client.submit(_in_a_task, [1, -2, 3, -4, 5]).result()
    # a project error of an item arrives as it is, as in a local job
    with pytest.raises(InvalidInput, match="thirteen"):
        dask_client.submit(_in_a_task, [1, 13, 3]).result()


def test_a_cancellation_cancels_the_items_in_flight(dask_client: Any) -> None:
    dask_client.get_task_stream()
    started = time.time()
    with pytest.raises(JobCancelled):
        dask_client.submit(_cancelled_in_a_task, 0.5).result(timeout=30)
    assert time.time() - started < 5  # not the 20 s of its items
    time.sleep(1.5)  # the two items running at the cancellation end; no other starts
    stream = dask_client.get_task_stream(start=started)
    assert len([t for t in stream if str(t["key"]).startswith("sleep-")]) <= 4
    left = dask_client.run_on_scheduler(
        lambda dask_scheduler: [k for k in dask_scheduler.tasks if "sleep-" in str(k)]
    )
    assert left == []

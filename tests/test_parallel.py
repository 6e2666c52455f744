"""fan_out outside a Dask worker is the plain loop of today: same results, order, skips and errors.
(Inside a worker it spreads over the cluster: tests/jobs/test_dask_runner.py runs a real one.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shopfloor.parallel import SKIPPED, fan_out, local_deadline, on_cluster, wall_deadline


def square(x: int) -> int:
    return x * x


def test_outside_a_worker_it_is_a_plain_map() -> None:
    assert not on_cluster()
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

    out = fan_out(square, [1, 2, 3, 4], before=before, after=after)
    assert out == [1, 4, SKIPPED, 16]
    assert calls == [
        ("before", 0),
        ("after", 0),
        ("before", 1),
        ("after", 1),
        ("before", 2),
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


def test_an_error_of_before_stops_the_loop() -> None:
    ran: list[int] = []

    def before(i: int) -> bool:
        if i == 1:
            raise RuntimeError("cancelled")
        return True

    with pytest.raises(RuntimeError, match="cancelled"):
        fan_out(ran.append, [0, 1, 2], before=before)
    assert ran == [0]


def test_deadlines_cross_processes_as_wall_clock_instants() -> None:
    deadline = time.perf_counter() + 5.0
    wall = wall_deadline(deadline)
    assert wall is not None and abs(wall - (time.time() + 5.0)) < 0.05
    back = local_deadline(wall)
    assert back is not None and abs(back - deadline) < 0.05
    assert wall_deadline(None) is None and local_deadline(None) is None


# -- inside a worker task: two single-thread workers in this process ------------------------------


def _slow_square(x: int) -> int:
    time.sleep(0.05)
    if x < 0:
        raise ValueError(f"negative {x}")
    return x * x


def _fan_out_in_a_task(items: list[int], skip: int | None = None) -> tuple[bool, list[object]]:
    seen: list[int] = []
    out = fan_out(_slow_square, items, before=lambda i: i != skip, after=lambda i, _: seen.append(i))
    assert sorted(seen) == [i for i in range(len(items)) if i != skip]
    return on_cluster(), [None if r is SKIPPED else r for r in out]


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def test_inside_a_worker_task_the_items_run_on_the_cluster_in_order(dask_client: Any) -> None:
    items = list(range(12))
    dask_client.get_task_stream()  # the scheduler records the task stream from here on
    started = time.time()
    clustered, out = dask_client.submit(_fan_out_in_a_task, items).result()
    assert clustered and out == [x * x for x in items]
    # the calling task seceded (one thread per worker): its items ran on both workers
    stream = dask_client.get_task_stream(start=started)
    assert len({t["worker"] for t in stream if str(t["key"]).startswith("item-")}) == 2
    assert dask_client.submit(_fan_out_in_a_task, [5, 6, 7], 1).result() == (True, [25, None, 49])


def test_inside_a_worker_task_the_first_error_in_item_order_propagates(dask_client: Any) -> None:
    with pytest.raises(ValueError, match="negative -2"):
        dask_client.submit(_fan_out_in_a_task, [1, -2, 3, -4, 5]).result()

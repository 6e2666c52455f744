"""The micro-batcher: who waits, who is scored together, and how answers and errors are split."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shopfloor.serving.batching import MicroBatcher


class Model:
    """A model call that records each call's records and thread; a record "bad" makes it raise."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []
        self.threads: list[int] = []

    def __call__(self, records: list[Any]) -> list[Any]:
        self.calls.append(list(records))
        self.threads.append(threading.get_ident())
        if "bad" in records:
            raise ValueError("bad record")
        return [f"answer {r}" for r in records]


def _run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


def _together(batcher: MicroBatcher, *requests: tuple[Any, list[Any], Model]) -> list[Any]:
    """The requests started in one turn of the event loop (as the server starts what it read at
    once); each request's answers, or its exception."""

    async def scenario() -> list[Any]:
        tasks = [batcher.predict(key, records, model) for key, records, model in requests]
        return await asyncio.gather(*tasks, return_exceptions=True)

    return list(_run(scenario))


def test_a_lone_request_calls_the_model_at_once_on_the_event_loop() -> None:
    batcher, model = MicroBatcher(0.002, 64), Model()

    async def scenario() -> None:
        # The coroutine finishes on its first step: it never suspended, so it waited for nothing.
        step = batcher.predict("k", [1, 2], model).__await__()
        with pytest.raises(StopIteration) as done:
            step.send(None)
        assert done.value.value == ["answer 1", "answer 2"]
        assert model.threads == [threading.get_ident()]

    _run(scenario)
    assert model.calls == [[1, 2]] and batcher.batches == 0


def test_requests_read_together_share_one_call_and_get_their_own_answers() -> None:
    batcher, model = MicroBatcher(0.002, 64), Model()
    sent = [[1], [2, 3], [4], [5]]
    answers = _together(batcher, *[("k", records, model) for records in sent])
    assert answers == [["answer 1"], ["answer 2", "answer 3"], ["answer 4"], ["answer 5"]]
    # the first is alone in its turn and goes at once; the others wait for the next turn, together
    assert model.calls == [[1], [2, 3, 4, 5]]
    assert batcher.batches == 1 and batcher.batched_requests == 3
    assert model.threads[1] != threading.get_ident()  # the shared call runs off the event loop


def test_a_shared_call_of_few_records_runs_on_the_event_loop() -> None:
    batcher, model = MicroBatcher(0.002, 64, inline_records=4), Model()
    sent = [("k", [1]), ("a", [2]), ("a", [3, 4]), ("b", [5, 6, 7]), ("b", [8, 9])]
    answers = _together(batcher, *[(key, records, model) for key, records in sent])
    assert answers == [[f"answer {r}" for r in records] for _, records in sent]
    calls = dict(zip(map(tuple, model.calls), model.threads, strict=True))
    assert set(calls) == {(1,), (2, 3, 4), (5, 6, 7, 8, 9)}
    here = threading.get_ident()
    assert calls[(1,)] == calls[(2, 3, 4)] == here != calls[(5, 6, 7, 8, 9)]  # 3 records inline, 5 not


def test_requests_of_other_keys_are_never_scored_together() -> None:
    batcher, model = MicroBatcher(0.002, 64), Model()
    answers = _together(
        batcher,
        (("a", "m", 1), [0], model),
        (("a", "m", 1), [1], model),
        (("b", "m", 1), [2], model),  # another tenant
        (("a", "m", 2), [3], model),  # another version
        (("a", "m", 1), [4], model),
        (("b", "m", 1), [5], model),
    )
    assert answers == [[f"answer {i}"] for i in range(6)]
    assert sorted(model.calls) == [[0], [1, 4], [2, 5], [3]]


def test_an_error_in_one_request_fails_that_request_alone() -> None:
    batcher, model = MicroBatcher(0.002, 64), Model()
    sent: list[list[Any]] = [[0], [1], ["bad"], [2, 3]]
    answers = _together(batcher, *[("k", records, model) for records in sent])
    assert answers[:2] == [["answer 0"], ["answer 1"]] and answers[3] == ["answer 2", "answer 3"]
    assert isinstance(answers[2], ValueError) and str(answers[2]) == "bad record"
    # the shared call failed, then each of its requests was scored by a call of its own
    assert model.calls == [[0], [1, "bad", 2, 3], [1], ["bad"], [2, 3]]


def test_a_batch_goes_as_soon_as_it_holds_the_most_records() -> None:
    batcher, model = MicroBatcher(0.002, 3), Model()
    answers = _together(batcher, *[("k", [i], model) for i in range(8)])
    assert answers == [[f"answer {i}"] for i in range(8)]
    assert sorted(model.calls) == [[0], [1, 2, 3], [4, 5, 6], [7]]


def test_a_batch_takes_no_request_after_its_bound() -> None:
    batcher, model = MicroBatcher(0.002, 64), Model()

    async def late(records: list[Any]) -> list[Any]:
        time.sleep(0.003)  # the requests before it in this turn took longer than the bound
        return await batcher.predict("k", records, model)

    async def scenario() -> list[Any]:
        first = [batcher.predict("k", [i], model) for i in range(3)]
        return await asyncio.gather(*first, late([3]), batcher.predict("k", [4], model))

    answers = _run(scenario)
    assert answers == [[f"answer {i}"] for i in range(5)]
    assert model.calls == [[0], [1, 2], [3, 4]]


def test_nothing_is_batched_when_the_wait_is_zero() -> None:
    batcher, model = MicroBatcher(0.0, 64), Model()
    answers = _together(batcher, *[("k", [i], model) for i in range(4)])
    assert answers == [[f"answer {i}"] for i in range(4)]
    assert model.calls == [[0], [1], [2], [3]] and batcher.batches == 0


def test_a_request_that_joined_alone_is_scored_without_a_thread() -> None:
    batcher, model = MicroBatcher(0.002, 64), Model()

    async def scenario() -> list[Any]:
        return await asyncio.gather(batcher.predict("a", [0], model), batcher.predict("b", [1], model))

    assert _run(scenario) == [["answer 0"], ["answer 1"]]
    assert model.calls == [[0], [1]] and batcher.batches == 0
    assert len(set(model.threads)) == 1


def test_a_request_given_up_does_not_hold_back_the_others() -> None:
    batcher, model = MicroBatcher(0.002, 64), Model()

    async def scenario() -> list[Any]:
        tasks = [asyncio.ensure_future(batcher.predict("k", [i], model)) for i in range(4)]
        await asyncio.sleep(0)  # all four reach the batcher; then the client of the third goes away
        tasks[2].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    answers = _run(scenario)
    assert answers[0] == ["answer 0"] and answers[1] == ["answer 1"] and answers[3] == ["answer 3"]
    assert isinstance(answers[2], asyncio.CancelledError)

"""A stream continued by several API processes (or hosts) sharing one registry: each keeps the state
it wrote last and writes the next only if no other process moved the stream meanwhile, so any
interleaving of calls gives exactly what one process gives, resets included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import msgpack
import numpy as np
import pandas as pd
import pytest

from conftest import Api, another_app
from shopfloor.registry.entities import Swap
from shopfloor.security import crypto
from shopfloor.services import streams
from shopfloor.tasks.base import ONE_STREAM

MODEL = "line"


def _power(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    times = pd.date_range("2024-06-01", periods=n, freq="10min")
    value = 50 + 5 * np.sin(2 * np.pi * np.arange(n) / 144) + rng.normal(0, 0.5, n)
    value[n - 30] += 15  # a fault among the streamed points
    return pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "power_kw": value.round(3)})


def _train_line(api: Api) -> None:
    builder = api.headers("builder")
    history = _power(300)
    up = api.client.post(
        "/v1/datasets",
        files={"file": ("power.csv", history.to_csv(index=False).encode(), "text/csv")},
        data={"name": "power"},
        headers=builder,
    )
    assert up.status_code == 201, up.text
    body = {"type": "train", "task": "series_anomaly", "dataset_id": up.json()["id"], "model_name": MODEL}
    job = api.client.post("/v1/jobs", json=body, headers=builder)
    assert job.status_code == 202, job.text
    api.run_jobs()
    assert api.client.get(f"/v1/jobs/{job.json()['id']}", headers=builder).json()["status"] == "succeeded"


@pytest.fixture
def line(api_with: Any) -> Api:
    """The series_anomaly model "line" (version 1), trained once per run; each test has its own copy."""
    return api_with(_train_line)


POINTS = _power(360).tail(60).to_dict("records")


def _score(api: Api, record: dict[str, Any]) -> dict[str, Any]:
    answer = api.client.post(
        f"/v1/models/{MODEL}/score?version=1", json={"records": [record]}, headers=api.headers("consumer")
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _reset(api: Api) -> None:
    answer = api.client.delete(f"/v1/models/{MODEL}/score/state", headers=api.headers("consumer"))
    assert answer.status_code == 200, answer.text


@contextmanager
def _apps(line: Api, *settings: dict[str, Any]) -> Iterator[list[Api]]:
    """``line`` and one more app on its registry per entry of ``settings``; each store's swaps noted."""
    with ExitStack() as stack:
        apps = [line]
        for changed in settings:
            opened = another_app(line, **changed)
            apps.append(next(opened))
            stack.callback(next, opened, None)
        for app in apps:
            swap, noted = app.platform.store.swap_stream_states, []

            def noting(*args: Any, _swap: Any = swap, _noted: list[Swap] = noted, **kwargs: Any) -> Swap:
                outcome: Swap = _swap(*args, **kwargs)
                _noted.append(outcome)
                return outcome

            app.platform.store.swap_stream_states = noting  # type: ignore[method-assign]
            app.made = noted
            stack.callback(delattr, app.platform.store, "swap_stream_states")
        yield apps


@pytest.mark.backends("sqlite", "postgresql")
def test_interleaved_processes_score_exactly_as_one_process(line: Api) -> None:
    with _apps(line, {}, {"stream_cache_mb": 0}) as (a, b, uncached):
        alone = [_score(a, r) for r in POINTS]
        _reset(a)
        assert alone == [_score(uncached, r) for r in POINTS]  # every call read from the registry
        _reset(a)
        order = np.random.default_rng(3).integers(0, 3, len(POINTS))  # runs on one, switches
        apps = (a, b, uncached)
        mixed = [_score(apps[i], r) for i, r in zip(order, POINTS, strict=True)]
        assert mixed == alone  # every figure, band, flag and event: the same, to the last bit
        whole = a.client.post(  # the same points in one call (the test server takes 50 at most)
            f"/v1/models/{MODEL}/predict?version=1", json={"records": POINTS[:50]}, headers=a.headers()
        )
        assert whole.status_code == 200, whole.text
        streamed = [p for r in alone[:50] for p in r["results"][0]["points"]]
        assert streamed == whole.json()["predictions"][0]["points"]
        assert any(p["is_anomaly"] for r in alone for p in r["results"][0]["points"])
        # both ways were taken: a state kept here still current, and one another process moved on
        assert Swap.DONE in a.made and Swap.STALE in a.made and Swap.STALE in b.made
        assert uncached.made == []  # keeps nothing: always the registry's locking transaction


def test_calls_alternating_between_processes_soon_stop_scoring_for_nothing(line: Api) -> None:
    """A load balancer spreads one stream's calls over two servers: each finds the stream moved on by
    the other, so after a failed attempt it goes to the registry first, for longer and longer."""
    with _apps(line, {}) as (a, b):
        alone = [_score(a, r) for r in POINTS]
        _reset(a)
        a.made.clear()
        assert [_score((a, b)[i % 2], r) for i, r in enumerate(POINTS)] == alone
        assert a.made.count(Swap.STALE) + b.made.count(Swap.STALE) <= 10  # not one per call
        assert Swap.DONE not in a.made + b.made


@pytest.mark.backends("sqlite", "postgresql")
def test_a_reset_through_one_process_restarts_the_stream_in_every_process(line: Api) -> None:
    with _apps(line, {}) as (a, b):
        expected = [_score(a, r) for r in POINTS[:20]]
        _reset(a)
        expected += [_score(a, r) for r in POINTS[20:]]
        _reset(a)
        got = [_score(a, r) for r in POINTS[:20]]  # a keeps the state it wrote
        _reset(b)  # through the other process, which starts the stream again
        got += [_score(b, r) for r in POINTS[20:25]]
        got += [_score(a, r) for r in POINTS[25:]]  # a goes on from b's state, not from what it kept
        assert got == expected
        assert a.made[0] is Swap.DONE and Swap.STALE in a.made and a.made[-1] is Swap.DONE


def test_a_state_written_as_json_by_an_earlier_version_is_continued(line: Api) -> None:
    """States are MessagePack now; a stream whose state an earlier version wrote (JSON) goes on."""
    platform = line.platform
    key = platform.sealed.tenant_key("default")
    where = streams._path(MODEL, 1, ONE_STREAM)

    def as_json(blobs: dict[str, bytes]) -> tuple[bytes, dict[str, bytes]]:
        plain = crypto.decrypt(key, where, blobs[ONE_STREAM])
        text = json.dumps(msgpack.unpackb(plain)).encode()
        return plain, {ONE_STREAM: crypto.encrypt(key, where, text)}

    with _apps(line) as (a,):
        expected = [_score(a, r) for r in POINTS]
        _reset(a)
        a.made.clear()
        got = [_score(a, r) for r in POINTS[:20]]
        plain = platform.store.update_stream_states("default", MODEL, 1, [ONE_STREAM], as_json, keep=10)
        assert plain[:1] != b"{"  # what this version writes
        got += [_score(a, r) for r in POINTS[20:]]
        assert got == expected
        assert a.made[:20] == [Swap.DONE] * 19 + [Swap.STALE]  # the row changed under a: read again

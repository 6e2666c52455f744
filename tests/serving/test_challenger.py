"""The challenger on the serving path: the canary's hash, which requests take part, the mode cache
and its one lookup when off, and the bounded queues off the request path."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from shopfloor.errors import Conflict, RegistryUnavailable
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.serving.challenger import (
    CHALLENGER,
    CHAMPION,
    Challengers,
    ShadowQueue,
    Trial,
    one_comparison,
    share_point,
    side_of,
    source,
)
from shopfloor.settings import Settings


def test_share_points_are_uniform_and_fixed_per_key() -> None:
    points = [share_point("line", f"req-{i}") for i in range(20_000)]
    assert all(0.0 <= p < 1.0 for p in points)
    for share in (0.1, 0.3, 0.5, 0.9):
        assert abs(sum(p < share for p in points) / len(points) - share) < 0.015
    assert share_point("line", "req-1") == share_point("line", "req-1")
    assert share_point("line", "req-1") != share_point("other", "req-1")  # each model its own


def test_sources_name_the_side_and_whether_it_was_served() -> None:
    assert source(CHAMPION, True) == "champion:served" and source(CHALLENGER, False) == "challenger:shadow"
    assert side_of("challenger:served") == CHALLENGER
    assert side_of("predict") is None and side_of("x:y") is None
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def ref(src: str, slot: int) -> LoggedPrediction:
        return LoggedPrediction("b0", slot, "t", "m", 1, "r", 0, src, at)

    assert one_comparison([ref("champion:served", 0), ref("challenger:shadow", 1)])
    assert not one_comparison([ref("champion:served", 0), ref("champion:served", 1)])  # the id reused
    assert not one_comparison([ref("predict", 0), ref("challenger:shadow", 1)])
    trial = Trial("canary", 1, 2, CHALLENGER)
    assert trial.answering == 2 and trial.shadowed == (CHAMPION, 1)
    assert Trial("shadow", 1, 2, CHAMPION).shadowed == (CHALLENGER, 2)


@dataclass
class _Generation:
    value: tuple[int, int] = (1, 0)

    def current(self) -> tuple[int, int]:
        return self.value


@dataclass
class _Store:
    modes: dict[str, dict[str, tuple[str, float]]] = field(default_factory=dict)
    reads: int = 0
    down: bool = False

    def challenger_modes(self, tenant: str) -> dict[str, tuple[str, float]]:
        self.reads += 1
        if self.down:
            raise RegistryUnavailable("the registry database is not reachable")
        return dict(self.modes.get(tenant, {}))


@dataclass
class _Version:
    version: int


class _Models:
    def __init__(self, aliases: dict[str, int]) -> None:
        self.aliases = aliases

    def resolve(self, tenant: str, name: str, version: int | str | None) -> Any:
        alias = version or "production"
        if alias not in self.aliases:
            raise Conflict(f"no version aliased {alias!r}")
        return _Version(self.aliases[str(alias)])


@dataclass
class _Platform:
    store: _Store
    models: _Models
    generation: _Generation = field(default_factory=_Generation)
    settings: Settings = field(default_factory=lambda: Settings(challenger_queue=4))


def _challengers(mode: tuple[str, float] | None, aliases: dict[str, int] | None = None) -> Challengers:
    modes = {"t": {"line": mode}} if mode else {}
    platform = _Platform(_Store(modes), _Models(aliases or {"production": 1, "challenger": 2}))
    return Challengers(platform)  # type: ignore[arg-type]


def test_off_is_one_cached_lookup_until_the_generation_moves() -> None:
    found = _challengers(None)
    platform: Any = found._platform
    for _ in range(100):
        assert found.trial("t", "line", None, "k") is None
    assert platform.store.reads == 1  # the tenant's modes read once
    platform.store.modes = {"t": {"line": ("shadow", 0.0)}}
    assert found.trial("t", "line", None, "k") is None  # still the cached answer
    platform.generation.value = (2, 0)  # a change anywhere moves the registry generation
    assert found.trial("t", "line", None, "k") == Trial("shadow", 1, 2, CHAMPION)
    assert platform.store.reads == 2


def test_which_requests_take_part() -> None:
    found = _challengers(("shadow", 0.0), {"production": 1, "challenger": 2, "staging": 3, "same": 2})
    assert found.trial("t", "line", None, None) == Trial("shadow", 1, 2, CHAMPION)
    assert found.trial("t", "line", "staging", None) == Trial("shadow", 3, 2, CHAMPION)  # the alias asked
    assert found.trial("t", "line", "same", None) is None  # that alias is the challenger itself
    for asked in (1, "1", "challenger"):
        assert found.trial("t", "line", asked, None) is None  # a version by number, or the challenger
    assert found.trial("t", "other", None, None) is None
    assert found.trial("u", "line", None, None) is None
    assert _challengers(("shadow", 0.0), {"production": 1}).trial("t", "line", None, None) is None


def test_canary_sides_follow_the_key() -> None:
    found = _challengers(("canary", 0.4))
    sides = {k: found.trial("t", "line", None, f"part-{k}").served for k in range(2000)}  # type: ignore[union-attr]
    share = sum(s == CHALLENGER for s in sides.values()) / len(sides)
    assert 0.37 < share < 0.43
    assert all(found.trial("t", "line", None, f"part-{k}").served == sides[k] for k in range(50))  # type: ignore[union-attr]
    assert _challengers(("canary", 0.0)).trial("t", "line", None, "k").served == CHAMPION  # type: ignore[union-attr]
    assert _challengers(("canary", 1.0)).trial("t", "line", None, "k").served == CHALLENGER  # type: ignore[union-attr]


def test_an_unreachable_registry_serves_the_champion_alone(caplog: pytest.LogCaptureFixture) -> None:
    found = _challengers(("shadow", 0.0))
    found._platform.store.down = True  # type: ignore[attr-defined]
    assert found.trial("t", "line", None, None) is None
    assert "none run" in caplog.text


def test_work_of_one_model_runs_in_order_off_the_caller() -> None:
    queue = ShadowQueue(capacity=300, threads=3)  # 100 per thread: both models may share one
    seen: list[tuple[str, int]] = []
    for i in range(30):
        for model in ("a", "b"):
            assert queue.submit("t", model, lambda m=model, i=i: seen.append((m, i)))
    assert queue.wait_idle(10)
    for model in ("a", "b"):
        assert [i for m, i in seen if m == model] == list(range(30))
    queue.close(1)


def test_a_full_queue_drops_and_a_failure_does_not_stop_it(caplog: pytest.LogCaptureFixture) -> None:
    from shopfloor import metrics

    gate, done = threading.Event(), []
    queue = ShadowQueue(capacity=2, threads=1)
    before = metrics.RECORDER.challenger.get(("t", "m", "dropped"), 0)
    assert queue.submit("t", "m", lambda: gate.wait(10))  # runs, held up
    assert queue.wait_idle(0.2) is False
    assert queue.submit("t", "m", lambda: 1 / 0)  # waits, then fails
    assert queue.submit("t", "m", lambda: done.append(1))
    assert not queue.submit("t", "m", lambda: done.append(2))  # the queue is full: dropped
    assert queue.dropped == 1 and metrics.RECORDER.challenger[("t", "m", "dropped")] == before + 1
    gate.set()
    assert queue.wait_idle(10) and done == [1]
    assert "challenger of model m (tenant t) failed" in caplog.text
    assert metrics.RECORDER.challenger[("t", "m", "failed")] >= 1


def test_close_lets_queued_work_finish_then_drops_the_rest() -> None:
    gate, done = threading.Event(), []
    queue = ShadowQueue(capacity=10, threads=1)
    queue.submit("t", "m", lambda: gate.wait(10))
    queue.submit("t", "m", lambda: done.append(1))
    queue.close(0.2)  # the first is still held up: the second is dropped
    gate.set()
    assert done == [] and queue.dropped == 1
    assert not queue.submit("t", "m", lambda: done.append(2))  # closed

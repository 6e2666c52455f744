"""The signal registry: one source per signal, unknown values with the reason, error rate and p99
latency over any log of request outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopfloor.alerting.signals import (
    Outcomes,
    SignalQuery,
    SignalRegistry,
    use_outcome_log,
)

UNTIL = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def query(signal: str, **more: object) -> SignalQuery:
    return SignalQuery(tenant="t", model="press", version=2, signal=signal, window_s=600, until=UNTIL, **more)  # type: ignore[arg-type]


class Log:
    """Outcomes per (model, version), recording the windows asked for."""

    def __init__(self, found: Outcomes) -> None:
        self.found = found
        self.asked: list[tuple[str, int, datetime, datetime]] = []

    def outcomes(self, tenant: str, model: str, version: int, since: datetime, until: datetime) -> Outcomes:
        self.asked.append((model, version, since, until))
        return self.found


class Fixed:
    def __init__(self, value: float | None) -> None:
        self.v = value

    def value(self, query: SignalQuery) -> float | None:
        return self.v


class Broken:
    def value(self, query: SignalQuery) -> float | None:
        raise RuntimeError("the drift table is not there")


def test_error_rate_and_latency_come_from_the_outcome_log() -> None:
    registry = SignalRegistry()
    log = Log(Outcomes(requests=200, errors=5, latency_p99_ms=42.5))
    use_outcome_log(registry, log)
    assert registry.known == ("error_rate", "latency_p99_ms")
    assert registry.read(query("error_rate")).value == pytest.approx(0.025)
    assert registry.read(query("latency_p99_ms")).value == 42.5
    assert log.asked[0] == ("press", 2, UNTIL - timedelta(seconds=600), UNTIL)
    log.found = Outcomes(0, 0, None)
    reading = registry.read(query("error_rate"))
    assert reading.value is None and reading.note == "no error_rate for version 2 in the window"


def test_unknown_values_say_why() -> None:
    registry = SignalRegistry()
    assert registry.read(query("drift_score")).note == "no source of drift_score on this server"
    registry.register("drift_score", Broken())
    assert registry.read(query("drift_score")).note == "the source of drift_score failed: RuntimeError"
    registry.register("drift_score", Fixed(float("inf")))
    assert registry.read(query("drift_score")).value is None
    registry.register("drift_score", Fixed(0.7))  # a later registration replaces the source
    assert registry.read(query("drift_score", input="temperature")).value == 0.7
    with pytest.raises(ValueError, match="unknown signal"):
        registry.register("cpu", Fixed(1.0))

"""A rule's checks, its state steps and its sentences: pure functions, no registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alert_fixtures import rule_entity
from shopfloor.alerting.rules import check, duration, sentence, step
from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import ALERT_RULE_FIELDS

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_breach_fires_at_once_without_a_for_duration() -> None:
    moved = step("ok", T0, 0.5, ">", 0.3, 0, at(10))
    assert (moved.state, moved.since, moved.event) == ("firing", at(10), "firing")
    assert step("firing", at(10), 0.6, ">", 0.3, 0, at(40)).event is None  # still firing: said once
    back = step("firing", at(10), 0.1, ">", 0.3, 0, at(70))
    assert (back.state, back.since, back.event) == ("ok", at(70), "resolved")


def test_a_breach_must_last_the_for_duration() -> None:
    pending = step("ok", T0, 0.5, ">", 0.3, 60, at(0))
    assert (pending.state, pending.since, pending.event) == ("pending", at(0), None)
    assert step("pending", at(0), 0.5, ">", 0.3, 60, at(59)) .state == "pending"
    fired = step("pending", at(0), 0.5, ">", 0.3, 60, at(60))
    assert (fired.state, fired.event) == ("firing", "firing")
    calm = step("pending", at(0), 0.2, ">", 0.3, 60, at(30))
    assert (calm.state, calm.since, calm.event) == ("ok", at(30), None)


def test_an_unknown_value_ends_a_pending_breach_but_keeps_a_firing_rule() -> None:
    assert step("pending", at(0), None, ">", 0.3, 60, at(30)).state == "ok"
    kept = step("firing", at(0), None, ">", 0.3, 60, at(30))
    assert (kept.state, kept.since, kept.event) == ("firing", at(0), None)
    assert step("ok", at(0), None, ">", 0.3, 60, at(30)).since == at(0)


@pytest.mark.parametrize(
    ("comparison", "value", "breach"),
    [(">", 0.3, False), (">=", 0.3, True), ("<", 0.79, True), ("<=", 0.8, True), ("<", 0.8, False)],
)
def test_comparisons(comparison: str, value: float, breach: bool) -> None:
    bound = 0.3 if comparison.startswith(">") else 0.8
    assert (step("ok", T0, value, comparison, bound, 0, at(1)).state == "firing") is breach


def spec(**changes: Any) -> dict[str, Any]:
    """A rule's fields as the checks see them: a drift rule above 0.3."""
    base = rule_entity(name="press-drift")
    return {**{k: getattr(base, k) for k in ALERT_RULE_FIELDS}, **changes}


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"signal": "estimated_metric"}, "metric"),
        ({"signal": "realised_metric", "metric": "F1"}, "metric"),
        ({"metric": "f1"}, "metric"),
        ({"signal": "error_rate", "input": "temp"}, "input"),
        ({"signal": "error_rate", "bound": 5}, "bound"),
        ({"bound": float("nan")}, "bound"),
        ({"window_s": 30}, "window_s"),
        ({"for_s": -1}, "for_s"),
        ({"severity": "page"}, "severity"),
        ({"comparison": "=="}, "comparison"),
        ({"name": "-x"}, "name"),
    ],
)
def test_rules_that_do_not_fit_together_are_refused_with_the_field(
    changes: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check(spec(**changes))
    assert caught.value.errors[0]["loc"] == ["body", where]


def test_good_rules_pass() -> None:
    check(spec())
    check(spec(input="temperature"))
    check(spec(signal="realised_metric", metric="rmse", comparison="<", bound=2.5))
    check(spec(signal="latency_p99_ms", bound=250, for_s=300))


def test_durations_and_sentences() -> None:
    assert [duration(s) for s in (45, 60, 900, 7200, 86400, 90)] == ["45s", "1m", "15m", "2h", "1d", "90s"]
    rule = rule_entity(name="press-drift", input="temperature", for_s=300, severity="critical")
    assert sentence(rule, "firing", 0.42, 3) == (
        "The drift score of input 'temperature' of model 'press' version 3 is 0.42 over the last 15m, "
        "above 0.3 for 5m (rule 'press-drift', critical)."
    )
    assert sentence(rule, "resolved", 0.1, 3).startswith("Resolved: the drift score of input 'temperature'")
    assert "last value: unknown" in sentence(rule, "test", None, None)

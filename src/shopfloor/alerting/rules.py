"""What a rule says and how its state moves: checks of a rule's fields, the comparison, the state
step (ok -> pending -> firing -> ok) and the sentence a notification carries. No I/O here."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shopfloor.alerting.signals import METRIC_SIGNALS, SIGNALS
from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import AlertRule

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SEVERITIES = ("info", "warning", "critical")
MAX_WINDOW_S = 30 * 86400
MAX_TARGETS = 5
_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
_METRIC = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class Step:
    """A rule's state after one evaluation; ``event`` is the notification it makes, if any."""

    state: str
    since: datetime
    event: str | None = None  # "firing" or "resolved"


def breached(value: float, comparison: str, bound: float) -> bool:
    return COMPARISONS[comparison](value, bound)


def step(
    state: str, since: datetime, value: float | None, comparison: str, bound: float, for_s: int, now: datetime
) -> Step:
    """The next state of a rule in ``state`` (since ``since``) that reads ``value`` at ``now``.

    A breach moves ok to pending, and pending to firing once it has lasted ``for_s`` seconds
    (at once with ``for_s`` 0); a value within the bound moves pending back to ok and resolves a
    firing rule. An unknown value ends a pending breach (it was not seen to last) but does not
    resolve a firing rule: no traffic, or no feedback yet, is not a recovery.
    """
    if value is None:
        return Step("ok", now) if state == "pending" else Step(state, since)
    if not breached(value, comparison, bound):
        if state == "firing":
            return Step("ok", now, "resolved")
        return Step("ok", now if state != "ok" else since)
    if state == "firing":
        return Step("firing", since)
    started = since if state == "pending" else now
    if (now - started).total_seconds() >= for_s:
        return Step("firing", now, "firing")
    return Step("pending", started)


def check(spec: dict[str, Any]) -> None:
    """Refuse (InvalidInput, 422, with the field's place) a rule whose fields do not fit together.

    ``spec`` holds the rule's fields as stored (after a change is applied to them).
    """
    problems: list[tuple[str, str]] = []
    signal = spec["signal"]
    if not _NAME.fullmatch(str(spec["name"])):
        why = "use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        problems.append(("name", why))
    if signal not in SIGNALS:
        problems.append(("signal", f"unknown signal; signals are {', '.join(SIGNALS)}"))
    if signal in METRIC_SIGNALS:
        if not spec.get("metric") or not _METRIC.fullmatch(str(spec["metric"])):
            problems.append(("metric", f"{signal} needs a metric name such as f1 or rmse (lower case)"))
    elif spec.get("metric") is not None:
        problems.append(("metric", f"{signal} takes no metric name"))
    if spec.get("input") is not None and signal != "drift_score":
        problems.append(("input", "only drift_score takes an input name"))
    if spec["comparison"] not in COMPARISONS:
        problems.append(("comparison", f"use one of {', '.join(COMPARISONS)}"))
    bound = spec["bound"]
    if not isinstance(bound, int | float) or not math.isfinite(bound):
        problems.append(("bound", "must be a finite number"))
    elif signal == "error_rate" and not 0 <= bound <= 1:
        problems.append(("bound", "an error rate is a share between 0 and 1"))
    if not 60 <= spec["window_s"] <= MAX_WINDOW_S:
        problems.append(("window_s", f"must be between 60 and {MAX_WINDOW_S} seconds"))
    if not 0 <= spec["for_s"] <= MAX_WINDOW_S:
        problems.append(("for_s", f"must be between 0 and {MAX_WINDOW_S} seconds"))
    if spec["severity"] not in SEVERITIES:
        problems.append(("severity", f"use one of {', '.join(SEVERITIES)}"))
    if problems:
        where, why = problems[0]
        raise InvalidInput(
            f"alert rule field {where!r}: {why}",
            errors=[{"loc": ["body", field], "msg": msg} for field, msg in problems],
        )


def duration(seconds: float) -> str:
    """``90`` -> ``90s``, ``900`` -> ``15m``, ``7200`` -> ``2h``: the largest whole unit (as Prometheus)."""
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def subject(rule: AlertRule) -> str:
    """What the rule watches, in words: ``drift score of input 'temp'``, ``estimated f1``."""
    if rule.signal == "drift_score":
        return f"drift score of input {rule.input!r}" if rule.input else "largest drift score"
    if rule.signal in METRIC_SIGNALS:
        return f"{rule.signal.split('_')[0]} {rule.metric}"
    return {"error_rate": "error rate", "latency_p99_ms": "99th percentile latency (ms)"}[rule.signal]


def sentence(rule: AlertRule, event: str, value: float | None, version: int | None) -> str:
    """The human sentence of a notification."""
    of = f"model {rule.model!r}" + (f" version {version}" if version is not None else "")
    seen = "unknown" if value is None else f"{value:.6g}"
    bound = f"{rule.bound:.6g}"
    window = duration(rule.window_s)
    if event == "resolved":
        return (
            f"Resolved: the {subject(rule)} of {of} is {seen} over the last {window}, no longer "
            f"{_WORDS[rule.comparison]} {bound} (rule {rule.name!r}, {rule.severity})."
        )
    lasted = f" for {duration(rule.for_s)}" if rule.for_s else ""
    if event == "test":
        return (
            f"Test of rule {rule.name!r} ({rule.severity}): it fires when the {subject(rule)} of {of} "
            f"over the last {window} is {_WORDS[rule.comparison]} {bound}{lasted}; last value: {seen}."
        )
    return (
        f"The {subject(rule)} of {of} is {seen} over the last {window}, {_WORDS[rule.comparison]} "
        f"{bound}{lasted} (rule {rule.name!r}, {rule.severity})."
    )

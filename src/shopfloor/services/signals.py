"""Where the alert signals' values come from: the prediction log every host shares.

* ``drift_score``: the drift of the inputs logged for the version in the rule's window
  (:func:`shopfloor.services.drift_log.window_scores`): the largest distance over the inputs, or
  the named input's; unknown with fewer than :data:`DRIFT_MIN_ROWS` logged predictions.
* ``estimated_metric`` and ``realised_metric``: the window scored as live performance scores each
  of its windows (:func:`shopfloor.services.performance.window_figures`): the CBPE estimate, and
  the metric on the outcomes fed back for the predictions made in the window.
* ``error_rate`` and ``latency_p99_ms``: :class:`LoggedOutcomes`, the calls logged for the version
  (online predictions and streamed scores; batch jobs are not requests), counted in the registry.

The window read ends at the rule's evaluation time rounded down to :func:`step` (5 % of the
window, at least a second, at most an hour), so evaluations within one step read the same rows,
and a drift window or a performance window already computed in this process is not computed
again (the drift check keeps its results by the rows' identity; the figures are kept here by the
window's bounds and what it holds). Every host reads the same rows and gets the same value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from shopfloor.alerting.signals import Outcomes, SignalQuery, SignalRegistry, use_outcome_log
from shopfloor.context import Platform
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.services.drift_log import window_scores
from shopfloor.services.performance import window_figures
from shopfloor.serving.challenger import CHALLENGER, CHAMPION, source

#: Logged predictions a window needs for a drift score: with fewer, the distances are mostly noise
#: (the KS distance of 30 rows of unchanged data reaches 0.3 one time in a hundred; of 100 rows, 0.17).
DRIFT_MIN_ROWS = 100
#: The sources whose calls are requests: online predictions and streamed scores, and the answers a
#: challenger's trial served (a batch job's blocks, and a side run beside the one that answered, are not).
REQUEST_SOURCES = ("predict", "score", *(source(side, True) for side in (CHAMPION, CHALLENGER)))
#: Performance windows kept per process.
KEPT = 64
#: What a signal reads as unknown instead of failing: the model has no profile or takes no
#: feedback, was deleted meanwhile, or its inputs cannot be compared from the log.
_UNKNOWN = (Conflict, InvalidInput, NotFound)


def step(window_s: int) -> int:
    """Seconds a window's end is rounded down to: 5 % of the window, 1 s to 1 h."""
    return int(min(3600, max(1, window_s // 20)))


def bounds(query: SignalQuery) -> tuple[datetime, datetime]:
    """The window a query reads: ``window_s`` seconds up to its time rounded down to :func:`step`."""
    size = step(query.window_s)
    epoch = int(query.until.timestamp())
    until = datetime.fromtimestamp(epoch - epoch % size, UTC)
    return until - timedelta(seconds=query.window_s), until


class DriftScores:
    """``drift_score`` from the inputs logged in the window."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def value(self, query: SignalQuery) -> float | None:
        since, until = bounds(query)
        try:
            found = window_scores(
                self.platform, query.tenant, query.model, query.version, since, until, DRIFT_MIN_ROWS
            )
        except _UNKNOWN:
            return None
        return found.input_score(query.input) if found is not None else None


class _Figures:
    """A window's live figures, kept per process by its bounds and what it holds (predictions,
    outcomes, the newest outcome's time): a new prediction or outcome in the window reads it anew."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._kept: OrderedDict[tuple[Any, ...], dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, query: SignalQuery) -> dict[str, Any] | None:
        since, until = bounds(query)
        held = self.platform.store.count_logged(query.tenant, query.model, query.version, since, until)
        if held.predictions == 0:
            return None
        key = (query.tenant, query.model, query.version, since, until, held)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        try:
            found: dict[str, Any] | None = window_figures(
                self.platform, query.tenant, query.model, query.version, since, until
            )
        except _UNKNOWN:
            found = None
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return found


class WindowMetric:
    """``estimated_metric`` (``part="estimated"``) or ``realised_metric`` (``"realised"``): the
    window's figure of ``query.metric``; unknown without one (no feedback yet, no calibration, a
    metric the model's task does not measure)."""

    def __init__(self, figures: _Figures, part: str) -> None:
        self.figures = figures
        self.part = part

    def value(self, query: SignalQuery) -> float | None:
        found = self.figures.of(query)
        figures = (found or {}).get(self.part) or {}
        value = figures.get(query.metric) if query.metric else None
        return float(value) if isinstance(value, int | float) else None


class LoggedOutcomes:
    """The :class:`~shopfloor.alerting.signals.OutcomeLog` of the prediction log: the logged calls of
    the version in the window (each call's latency and whether it failed are in the registry's
    clear index). Calls are logged at the model's sampling rate, failed ones alike
    (see ``PredictionLog.add_failure``): with a rate below 1 the figures are estimates."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def outcomes(self, tenant: str, model: str, version: int, since: datetime, until: datetime) -> Outcomes:
        found = self.platform.store.log_outcomes(tenant, model, version, since, until, REQUEST_SOURCES)
        return Outcomes(found.calls, found.failed, found.latency_p99_ms)


def register(found: SignalRegistry, platform: Platform) -> SignalRegistry:
    """Register every signal of the prediction log on ``found``."""
    figures = _Figures(platform)
    found.register("drift_score", DriftScores(platform))
    found.register("estimated_metric", WindowMetric(figures, "estimated"))
    found.register("realised_metric", WindowMetric(figures, "realised"))
    use_outcome_log(found, LoggedOutcomes(platform))
    return found

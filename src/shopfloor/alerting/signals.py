"""The signals an alert rule can watch, and where their values come from.

A rule names a signal; the evaluator asks the :class:`SignalRegistry` for its latest value over
the rule's window, and the registry asks the :class:`SignalSource` registered for that signal.
Sources are registered per server process (see ``shopfloor.services.alerts.signals``):

* ``drift_score``: the largest per-input drift score of the latest window, or ``query.input``'s
  (the drift detection registers it);
* ``estimated_metric``: a performance estimate without labels (CBPE), ``query.metric`` (f1, ...);
* ``realised_metric``: a metric on the feedback received, ``query.metric`` (f1, rmse, ...);
* ``error_rate`` and ``latency_p99_ms``: from the outcomes of the requests to the model
  (:class:`ErrorRate`, :class:`LatencyP99` over any :class:`OutcomeLog`, which the prediction log
  provides; :func:`use_outcome_log` registers both).

A value must be the same whichever process of a cluster asks, so sources read what every host
shares (the registry), never one process's own counters.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)

SIGNALS = ("drift_score", "estimated_metric", "realised_metric", "error_rate", "latency_p99_ms")
#: Signals that take a metric name (``query.metric``); only ``drift_score`` takes an input name.
METRIC_SIGNALS = frozenset({"estimated_metric", "realised_metric"})


@dataclass(frozen=True)
class SignalQuery:
    """What a rule asks: one signal of one model version, over ``window_s`` seconds up to ``until``.

    ``input`` (drift_score only): the input whose score is wanted; None means the largest score
    over the inputs. ``metric`` (estimated_metric, realised_metric): the metric's name, e.g. ``f1``,
    ``rmse``; None for the other signals.
    """

    tenant: str
    model: str
    version: int
    signal: str
    window_s: int
    until: datetime  # timezone-aware UTC
    input: str | None = None
    metric: str | None = None

    @property
    def since(self) -> datetime:
        """The start of the window."""
        return self.until - timedelta(seconds=self.window_s)


class SignalSource(Protocol):
    """Where one signal's values come from.

    ``value(query)`` returns the latest value of ``query.signal`` for the model version over the
    window ``[query.since, query.until]``, or None when it is not known (no data in the window,
    no reference to compare with, an unknown input or metric name). It must not raise for lack
    of data; an exception is logged and read as unknown. It runs on a worker thread of the
    evaluating process, may query the registry, and should answer within seconds.
    """

    def value(self, query: SignalQuery) -> float | None: ...


@dataclass(frozen=True)
class Reading:
    """A signal's value, or None with ``note`` saying why it is not known."""

    value: float | None
    note: str | None = None


class SignalRegistry:
    """The sources of one process, one per signal name (a later registration replaces one)."""

    def __init__(self) -> None:
        self._sources: dict[str, SignalSource] = {}

    def register(self, signal: str, source: SignalSource) -> None:
        """Make ``source`` answer for ``signal`` (one of :data:`SIGNALS`)."""
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; signals are {', '.join(SIGNALS)}")
        self._sources[signal] = source

    def source(self, signal: str) -> SignalSource | None:
        return self._sources.get(signal)

    @property
    def known(self) -> tuple[str, ...]:
        """The signals with a source, in :data:`SIGNALS` order."""
        return tuple(s for s in SIGNALS if s in self._sources)

    def read(self, query: SignalQuery) -> Reading:
        """The value of ``query``; never raises (a failing source reads as unknown, and is logged)."""
        source = self._sources.get(query.signal)
        if source is None:
            return Reading(None, f"no source of {query.signal} on this server")
        try:
            value = source.value(query)
        except Exception as exc:  # one broken source must not stop the other rules
            log.exception("the source of %s failed for %s:%s", query.signal, query.model, query.version)
            return Reading(None, f"the source of {query.signal} failed: {type(exc).__name__}")
        if value is None:
            return Reading(None, f"no {query.signal} for version {query.version} in the window")
        value = float(value)
        if not math.isfinite(value):
            return Reading(None, f"{query.signal} is not a finite number ({value})")
        return Reading(value)


# -- request outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcomes:
    """The requests a model version answered in a window: how many, how many failed (a 5xx, or a
    4xx the model raised on input it was given), and the 99th percentile of their latency."""

    requests: int
    errors: int
    latency_p99_ms: float | None


class OutcomeLog(Protocol):
    """The outcomes of the requests to a model version between two times, across every host.

    ``outcomes`` counts requests answered in ``[since, until)``; with none it returns
    ``Outcomes(0, 0, None)``.
    """

    def outcomes(
        self, tenant: str, model: str, version: int, since: datetime, until: datetime
    ) -> Outcomes: ...


class ErrorRate:
    """``error_rate``: the share of the window's requests that failed; unknown without requests."""

    def __init__(self, outcomes: OutcomeLog) -> None:
        self.log = outcomes

    def value(self, query: SignalQuery) -> float | None:
        found = self.log.outcomes(query.tenant, query.model, query.version, query.since, query.until)
        return found.errors / found.requests if found.requests > 0 else None


class LatencyP99:
    """``latency_p99_ms``: the 99th percentile of the window's request latencies, in milliseconds."""

    def __init__(self, outcomes: OutcomeLog) -> None:
        self.log = outcomes

    def value(self, query: SignalQuery) -> float | None:
        found = self.log.outcomes(query.tenant, query.model, query.version, query.since, query.until)
        return found.latency_p99_ms if found.requests > 0 else None


def use_outcome_log(registry: SignalRegistry, outcomes: OutcomeLog) -> None:
    """Register ``error_rate`` and ``latency_p99_ms`` over ``outcomes``."""
    registry.register("error_rate", ErrorRate(outcomes))
    registry.register("latency_p99_ms", LatencyP99(outcomes))

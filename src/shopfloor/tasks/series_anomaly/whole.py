"""One whole series detected from itself, with no stored model (stateless detection).

A request that carries the whole series (the Azure Anomaly Detector facade's univariate routes) is
answered by the family's own detector, learnt from that series and thrown away with the answer:
each candidate of :data:`~shopfloor.tasks.series_anomaly.detector.CANDIDATES` is scored on faults
injected into the series as a training job scores it
(:func:`~shopfloor.tasks.series_anomaly.selection.evaluate`), the best one is learnt from the
series with its band widened until at most ``max_ratio`` of the points fall outside
(:func:`~shopfloor.tasks.series_anomaly.selection.refit`), and the series is scored from a fresh
state. No alarm widening (alarm memory 0): every reading out of the band is flagged, as a request
about a whole series asks.

:func:`detect` scores every point, or learns from every point but the last and scores the last
one from the state the others left. Points filled into gaps are learnt from
and never scored. The caller makes the grid regular (``times`` evenly ``step`` apart).

Level changes (:mod:`~shopfloor.tasks.series_anomaly.changepoints`, found with confidence
``SHIFT_CONFIDENCE``) are taken out first, each stretch moved to the level of the last one: a
series that steps up half-way is learnt as one level, with one spread, instead of a level between
the two with a spread as wide as the step (which hides every spike). Expected values are moved back.
:func:`change_points` answers with those changes themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopfloor.tasks.series_anomaly import changepoints
from shopfloor.tasks.series_anomaly.detector import (
    CANDIDATES,
    Model,
    band_width,
    find_period,
    new_state,
    score_of,
)
from shopfloor.tasks.series_anomaly.scoring import Run, run
from shopfloor.tasks.series_anomaly.selection import choose, evaluate, refit
from shopfloor.tasks.series_anomaly.timeline import Timeline

#: The seed of the injected faults: the same series gets the same answer.
SEED = 0
#: Level changes taken out before learning: found with this confidence, this many points apart.
SHIFT_CONFIDENCE = 0.999
SHIFT_MIN_POINTS = 10


@dataclass(frozen=True)
class Detection:
    """Per scored point: expected value, band half-width (``margin``, the same on both sides),
    whether it is flagged, and its severity in [0, 1] (0 when not flagged, 0.5 on the band's
    edge, towards 1 far outside). ``period``: the seasonal period in points (0: none);
    ``detector``: the candidate chosen; ``band``: the band's width in spreads."""

    expected: np.ndarray
    margin: np.ndarray
    anomaly: np.ndarray
    severity: np.ndarray
    period: int
    detector: str
    band: float


def _timeline(
    times: np.ndarray, values: np.ndarray, filled: np.ndarray, step: float, dated: bool
) -> Timeline:
    n = len(times)
    index = np.arange(n)
    return Timeline(
        times=np.asarray(times, float),
        values=np.asarray(values, float).reshape(n, 1),
        filled=np.asarray(filled, bool),
        segment=np.zeros(n, int),
        point_of_row=index,
        row_of_point=np.where(filled, -1, index),
        step=step,
        is_datetime=dated,
    )


def period_of(times: np.ndarray, values: np.ndarray, step: float, dated: bool, period: int | None) -> int:
    """``period`` when given (0: no season); else a daily or weekly one found in the series, or 0.
    A period the series does not hold twice is dropped (0): its profile cannot be learnt."""
    if period is None:
        return find_period(np.asarray(times, float), np.asarray(values, float).reshape(-1, 1), step, dated)
    return period if 2 * period <= len(times) else 0


def level_offsets(values: np.ndarray, period: int) -> np.ndarray:
    """Per point, how far its stretch's level lies from the last stretch's (0 without a change)."""
    changes = changepoints.detect(values, period, SHIFT_MIN_POINTS, SHIFT_CONFIDENCE)
    return changes.levels - changes.levels[-1] if changes.points else np.zeros(len(values))


def learn(tl: Timeline, period: int, sensitivity: int, max_ratio: float) -> Model:
    """The detector chosen for and learnt from ``tl``, its band widened for ``max_ratio``."""
    k0 = band_width(sensitivity)
    figures = [evaluate(name, tl, period, k0, SEED, None, 0) for name in CANDIDATES]
    chosen = choose(figures)
    model, _ = refit(chosen["name"], tl, period, k0, 0, max_ratio)
    return model


def _answer(model: Model, fig: Run, period: int) -> Detection:
    k = model.k
    flags = fig.r > k
    severity = np.where(flags, [score_of(float(x), k) for x in fig.r], 0.0)
    return Detection(
        expected=fig.expected[:, 0],
        margin=k * fig.spread[:, 0],
        anomaly=flags,
        severity=severity,
        period=period,
        detector=model.name,
        band=k,
    )


def detect(
    times: np.ndarray,
    values: np.ndarray,
    filled: np.ndarray,
    step: float,
    dated: bool,
    *,
    period: int | None,
    sensitivity: int,
    max_ratio: float,
    last: bool = False,
) -> Detection:
    """Every point of the series (``filled``: points put into gaps, learnt from but left out of
    the answer), scored by the detector learnt from the whole series; with ``last``, the last point
    alone (never a filled one), scored by the detector learnt from the points before it, from the
    state they left."""
    learnt = len(times) - 1 if last else len(times)
    period = period_of(times[:learnt], values[:learnt], step, dated, period)
    offsets = np.zeros(len(values))  # the last point keeps its value: judged against the last stretch
    offsets[:learnt] = level_offsets(values[:learnt], period)
    moved = values - offsets
    tl = _timeline(times, moved, filled, step, dated)
    head = _timeline(times[:learnt], moved[:learnt], filled[:learnt], step, dated)
    model = learn(head, period, sensitivity, max_ratio)
    fig = run(model, new_state(model), tl.times, tl.values, tl.filled, tl.segment)
    fig = fig._replace(expected=fig.expected + offsets[:, None])
    keep = np.arange(len(times)) == len(times) - 1 if last else ~tl.filled
    return _answer(model, Run(*(a[keep] for a in fig)), period)


def change_points(
    times: np.ndarray,
    values: np.ndarray,
    step: float,
    dated: bool,
    *,
    period: int | None,
    min_size: int,
    threshold: float,
) -> tuple[int, changepoints.Changes]:
    """The seasonal period used and the level changes of the series
    (:func:`~shopfloor.tasks.series_anomaly.changepoints.detect`)."""
    period = period_of(times, values, step, dated, period)
    return period, changepoints.detect(np.asarray(values, float), period, min_size, threshold)

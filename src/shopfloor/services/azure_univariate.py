"""Azure Anomaly Detector v1.1 univariate detection, served by the single-series detector.

Each request carries a whole series and is answered from that series alone (stateless: nothing
is stored): the family that declares ``whole_series`` (the single-series anomaly detector) learns
from the series and scores it (:func:`entire`), or scores its last point from the points before it
(:func:`last`), or finds where its level changes (:func:`change_points`). The series is checked and
put on its grid by :mod:`shopfloor.services.azure_series`.

How the API's options map onto the detector:

- ``sensitivity`` (0-99, default 95) sets the detector's band: Azure's default 95 is the detector's
  default 80 (a point 3.4 typical deviations away is abnormal), 99 gives 3.1, 0 gives 11.4.
- ``maxAnomalyRatio`` (default 0.25) is the detector's: the band widens until at most that share of
  the points fall outside it.
- ``period`` is the seasonal period in points; absent, a daily or weekly one is looked for.
- The margins are the band's half-width around the expected value (the same on both sides): a point
  outside ``expected +- margin`` is flagged, and so is one inside it that belongs to a lasting shift
  or an abrupt change of the stream's activity. ``severity`` is 0 for normal points and the
  detector's score (0.5 on the band, towards 1 far outside) for flagged ones.
- Change points: binary segmentation with a CUSUM test on the level (``threshold``: the confidence
  a change needs, default 0.99; ``stableTrendWindow``: the fewest points between two changes,
  default 10, or half the points of a shorter series).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shopfloor.errors import ShopfloorError
from shopfloor.services.azure_series import MAX_POINTS, MIN_POINTS, Grid, grid_of, invalid
from shopfloor.tasks import catalog

DEFAULT_SENSITIVITY = 95
#: Azure's default sensitivity is the detector's default (80).
DETECTOR_DEFAULT_SENSITIVITY = 80
DEFAULT_MAX_RATIO = 0.25
DEFAULT_THRESHOLD = 0.99
DEFAULT_STABLE_WINDOW = 10
#: Last-point detection: the suggested window is this many periods (or points without one), plus one.
WINDOW_PERIODS = 4
WINDOW_POINTS = 28


def _detector() -> Any:
    """The estimator class of the family that detects a whole series from itself."""
    found = catalog.tasks_where(lambda c: c.whole_series)
    if not found:
        raise ShopfloorError("no task family detects a whole series on this server")
    return catalog.estimator_class(found[0])


def detector_sensitivity(sensitivity: int) -> int:
    """Azure's sensitivity on the detector's scale: 95 -> 80, 99 -> 83, 0 -> 0."""
    return min(99, round(sensitivity * DETECTOR_DEFAULT_SENSITIVITY / DEFAULT_SENSITIVITY))


def _period(body: dict[str, Any], grid: Grid) -> int | None:
    period = body.get("period")
    if period is None:
        return None
    if period < 0:
        raise invalid("InvalidPeriod", f"period must be a whole number >= 0, not {period}", "period")
    if 2 * period > len(grid.times):
        raise invalid(
            "InvalidPeriod",
            f"period {period} needs at least {2 * period} points (two periods); the series has "
            f"{len(grid.times)}",
            "period",
        )
    return int(period)


def _options(body: dict[str, Any]) -> tuple[int, float]:
    sensitivity = body.get("sensitivity")
    sensitivity = DEFAULT_SENSITIVITY if sensitivity is None else sensitivity
    if not 0 <= sensitivity <= 99:
        raise invalid(
            "InvalidModelArgument", f"sensitivity must be a whole number from 0 to 99, not {sensitivity}",
            "sensitivity",
        )
    ratio = body.get("maxAnomalyRatio")
    ratio = DEFAULT_MAX_RATIO if ratio is None else ratio
    if not (math.isfinite(ratio) and 0 < ratio <= 0.5):
        raise invalid(
            "InvalidModelArgument", f"maxAnomalyRatio must be above 0 and at most 0.5, not {ratio}",
            "maxAnomalyRatio",
        )
    return detector_sensitivity(int(sensitivity)), float(ratio)


def _detect(body: dict[str, Any], last: bool) -> tuple[Any, np.ndarray]:
    grid = grid_of(body)
    period = _period(body, grid)
    sensitivity, ratio = _options(body)
    found = _detector().detect_series(
        grid.times, grid.values, grid.filled, grid.step, grid.dated,
        period=period, sensitivity=sensitivity, max_ratio=ratio, last=last,
    )
    values = grid.values[~grid.filled]
    return found, values[-1:] if last else values


def _sides(found: Any, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    above = values >= found.expected
    return found.anomaly & above, found.anomaly & ~above


def entire(body: dict[str, Any]) -> dict[str, Any]:
    """``timeseries/entire/detect``: every point, scored by the detector learnt from the series."""
    found, values = _detect(body, last=False)
    positive, negative = _sides(found, values)
    margins = _floats(found.margin)
    return {
        "period": int(found.period),
        "expectedValues": _floats(found.expected),
        "upperMargins": margins,
        "lowerMargins": margins,
        "isAnomaly": found.anomaly.tolist(),
        "isNegativeAnomaly": negative.tolist(),
        "isPositiveAnomaly": positive.tolist(),
        "severity": _floats(found.severity),
    }


def last(body: dict[str, Any]) -> dict[str, Any]:
    """``timeseries/last/detect``: the last point, scored by the detector learnt from the others."""
    found, values = _detect(body, last=True)
    positive, negative = _sides(found, values)
    margin = _floats(found.margin)[0]
    period = int(found.period)
    window = min(max(WINDOW_PERIODS * period if period else WINDOW_POINTS, MIN_POINTS - 1) + 1, MAX_POINTS)
    return {
        "period": period,
        "suggestedWindow": window,
        "expectedValue": _floats(found.expected)[0],
        "upperMargin": margin,
        "lowerMargin": margin,
        "isAnomaly": bool(found.anomaly[0]),
        "isNegativeAnomaly": bool(negative[0]),
        "isPositiveAnomaly": bool(positive[0]),
        "severity": _floats(found.severity)[0],
    }


def change_points(body: dict[str, Any]) -> dict[str, Any]:
    """``timeseries/changepoint/detect``: where the level of the series changes."""
    grid = grid_of(body, granularity_required=True, fill=False)
    period = _period(body, grid)
    window = body.get("stableTrendWindow")
    n = len(grid.times)
    window = min(DEFAULT_STABLE_WINDOW, n // 2) if window is None else window
    if not 2 <= window <= n // 2:
        raise invalid(
            "InvalidModelArgument",
            f"stableTrendWindow must be a whole number from 2 to half the points ({n // 2}), not {window}",
            "stableTrendWindow",
        )
    threshold = body.get("threshold")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if not (math.isfinite(threshold) and 0 < threshold < 1):
        raise invalid(
            "InvalidModelArgument", f"threshold must be between 0 and 1, not {threshold}", "threshold"
        )
    period, changes = _detector().change_points(
        grid.times, grid.values, grid.step, grid.dated,
        period=period, min_size=int(window), threshold=float(threshold),
    )
    real = ~grid.filled
    flags = np.zeros(n, bool)
    for p in changes.points:  # a change at a point filled into a gap shows at the next real one
        flags[p + int(np.argmax(real[p:]))] = True
    return {
        "period": int(period),
        "isChangePoint": flags[real].tolist(),
        "confidenceScores": _floats(changes.confidence[real]),
    }


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]

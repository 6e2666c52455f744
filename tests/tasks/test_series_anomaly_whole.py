"""A whole series detected from itself: spikes flagged, a level change taken out, the last point."""

from __future__ import annotations

import numpy as np

from shopfloor.tasks.series_anomaly.whole import Detection, change_points, detect

STEP = 3600.0


def _series(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 20.0 + 2.0 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.normal(0.0, 0.3, n)


def _detect(
    v: np.ndarray,
    filled: np.ndarray | None = None,
    period: int | None = None,
    sensitivity: int = 80,
    last: bool = False,
) -> Detection:
    filled = np.zeros(len(v), bool) if filled is None else filled
    times = np.arange(len(v)) * STEP
    return detect(
        times, v, filled, STEP, True, period=period, sensitivity=sensitivity, max_ratio=0.25, last=last
    )


def test_spikes_are_flagged_across_a_level_change() -> None:
    v = _series()
    v[[40, 220]] += 3.0
    v[150:] += 5.0
    found = _detect(v)
    assert np.flatnonzero(found.anomaly).tolist() == [40, 220]
    assert found.period == 24
    expected = found.expected
    assert abs(np.median(expected[:140] - v[:140])) < 0.2 and abs(np.median(expected[160:] - v[160:])) < 0.2


def test_filled_points_are_learnt_from_and_left_out() -> None:
    v = _series()
    filled = np.zeros(len(v), bool)
    filled[100:104] = True
    found = _detect(v, filled)
    assert len(found.anomaly) == len(v) - 4


def test_the_last_point_is_judged_by_the_points_before_it() -> None:
    v = _series(200)
    v[-1] -= 3.0
    found = _detect(v, last=True)
    assert found.anomaly.tolist() == [True] and found.severity[0] > 0.5
    assert found.expected[0] - found.margin[0] > v[-1]
    assert not _detect(v[:-1], last=True).anomaly[0]


def test_sensitivity_and_period() -> None:
    v = _series()
    narrow, wide = _detect(v, sensitivity=99), _detect(v, sensitivity=0)
    assert wide.margin.mean() > 3 * narrow.margin.mean()
    assert _detect(v, period=0).period == 0


def test_change_points_with_the_period_found() -> None:
    v = _series()
    v[180:] -= 1.5
    times = np.arange(len(v)) * STEP
    period, changes = change_points(times, v, STEP, True, period=None, min_size=10, threshold=0.99)
    assert period == 24 and changes.points == [180]

"""A new sensor anomaly version and the one in production on the same assets of the new data.

Without labels, the new version's report measures false alarms on clean held-out assets and the
detection of synthetic faults injected into them, each asset scored by the detector of the asset
fold that did not see it, at that fold's threshold. The champion scores the same clean points and
the same faulty stretches with its own detector and threshold. Each model is judged at its own
threshold, so a detector that alarms more would detect more: the figure compared is the detection
rate minus the false-alarm rate (Youden's J; what ``series_anomaly`` selects by). Assets of data the
champion learnt from are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopfloor.tasks.anomaly.events import raised_runs
from shopfloor.tasks.anomaly.models import Detector, smooth_assets
from shopfloor.tasks.compare import (
    Compared,
    Incomparable,
    NewData,
    Paired,
    all_seen,
    fresh_units,
    not_fitted_here,
)

FIGURE = "detection_minus_false_alarms"


def _side(
    scores: list[np.ndarray], faults: list[list[np.ndarray]], onsets: list[list[int]], threshold: list[float],
    min_points: int,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:  # fmt: skip
    """Per asset: clean points, flagged points and, per fault, whether an event starts at or after
    its onset (each asset at its own threshold)."""
    points = np.array([len(s) for s in scores], dtype=float)
    flagged = np.array([float((s > t).sum()) for s, t in zip(scores, threshold, strict=True)])
    hits = [
        np.array([_detected(f > t, at, min_points) for f, at in zip(fs, starts, strict=True)], dtype=float)
        for fs, starts, t in zip(faults, onsets, threshold, strict=True)
    ]
    return points, flagged, hits


def _detected(flags: np.ndarray, onset: int, min_points: int) -> bool:
    return any(first >= onset for first, _ in raised_runs(flags, min_points))


def _figures(
    points: np.ndarray, flagged: np.ndarray, hits: list[np.ndarray], take: np.ndarray
) -> dict[str, float]:
    drawn = np.concatenate([hits[i] for i in take]) if len(take) else np.zeros(0)
    detection = float(drawn.mean()) if len(drawn) else float("nan")
    far = float(flagged[take].sum() / points[take].sum()) if points[take].sum() else float("nan")
    return {FIGURE: detection - far, "fault_detection_rate": detection, "false_alarm_rate": far}


def compare_assets(new: Any, champion: Any, data: NewData) -> Compared:
    """See the module docstring; ``new`` keeps ``cross_fit_`` (the chosen family's fold detectors,
    the folds with their injected faults, the assets' sensor rows) and ``asset_codes_`` from its fit."""
    found = getattr(new, "cross_fit_", None)
    if found is None:
        return not_fitted_here("fold detectors")
    detectors, folds, series = found
    mine, theirs = list(new.spec_.sensors), list(champion.spec_.sensors)
    if sorted(mine) != sorted(theirs):
        return Incomparable(
            f"the new version reads the sensors {', '.join(mine)} and {data.champion} reads "
            f"{', '.join(theirs)}: the faults injected into one cannot be scored by the other"
        )
    fresh, left_out = fresh_units(new.asset_codes_, data.seen)
    if len(fresh) == 0:
        return all_seen("every asset", data, "retrain with other assets or a later period", left_out)
    order = [mine.index(s) for s in theirs]
    window, min_points = int(new.window), int(new.min_event_points)
    q = 1.0 - float(new.false_alarm_rate)
    smoothed = smooth_assets(series, window)
    held = [
        [d.score(d.standardise(smoothed[a][window - 1 :])) for a in fold.held]
        for d, fold in zip(detectors, folds, strict=True)
    ]
    fold_threshold = []
    for f in range(len(folds)):
        others = [s for g in range(len(folds)) if g != f for s in held[g]]
        fold_threshold.append(float(np.quantile(np.concatenate(others), q)) if others else float("inf"))
    plan = {a: (f, i) for f, fold in enumerate(folds) for i, a in enumerate(fold.held)}
    units = [int(a) for a in fresh if int(a) in plan]
    new_scores, old_scores, new_faults, old_faults, onsets, new_t = [], [], [], [], [], []
    old: Detector = champion.detector_
    for a in units:
        f, i = plan[a]
        det, fold = detectors[f], folds[f]
        new_scores.append(held[f][i])
        old_scores.append(old.score(old.standardise(smoothed[a][window - 1 :][:, order])))
        mine_f = [k for k, x in enumerate(fold.faults) if x.asset == i]
        stretches = [fold.stretches[k] for k in mine_f]
        new_faults.append([det.score(det.standardise(s)) for s in stretches])
        old_faults.append([old.score(old.standardise(s[:, order])) for s in stretches])
        onsets.append([fold.faults[k].onset - fold.faults[k].start for k in mine_f])
        new_t.append(fold_threshold[f])
    n_faults = sum(len(o) for o in onsets)
    if not units or n_faults == 0:
        why = "no asset of the new data" if not units else "no asset of the new data is long enough"
        return Incomparable(
            f"{why} held synthetic faults to detect (an asset needs a full window and room for a clean "
            "and a faulty stretch), so detection cannot be compared",
            left_out=left_out,
        )
    a_side = _side(new_scores, new_faults, onsets, new_t, min_points)
    b_side = _side(old_scores, old_faults, onsets, [float(champion.threshold_)] * len(units), min_points)
    return Paired(
        FIGURE,
        True,
        len(units),
        "assets",
        "assets of the new data",
        left_out,
        lambda take: (_figures(*a_side, take), _figures(*b_side, take)),
        how=f"{n_faults} synthetic faults were injected into them; the new version's figures come from "
        "its fold detectors, each asset scored by the one fitted without it, and each model flags at "
        "its own threshold.",
    )

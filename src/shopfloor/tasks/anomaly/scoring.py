"""Scoring sensor rows with a fitted anomaly detector, and the results built from the scores.

:class:`~shopfloor.tasks.anomaly.estimator.AnomalyEstimator` validates the rows and holds what fit learned
(detector, threshold, warm-up calibration); the array work of its ``predict``, ``score_stream``,
``predict_frame`` and ``explain`` is here: a request or table as arrays per asset (:class:`Rows`),
calibrated scores and sensor shares of new rows given the rows before them (:func:`score_blocks`),
and from those the per-asset results (:func:`asset_result`), the batch-scoring columns
(:func:`frame_columns`) and the explanation of an asset's latest point (:func:`explanation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from shopfloor.data.series import SeriesSpec, plain
from shopfloor.tasks.anomaly.events import EventTracker, raised_runs, severity
from shopfloor.tasks.anomaly.models import Detector, trailing_mean


def time_out(value: Any) -> Any:
    """A record's time as given, made JSON-friendly (timestamps as ISO 8601 text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return plain(value)


@dataclass
class Rows:
    """A validated request or table as arrays: each asset's row positions (in order of first
    appearance, rows in time order), the sensor values, numeric times and times as given."""

    groups: list[tuple[Any, np.ndarray]]
    values: np.ndarray
    times: np.ndarray
    raw_times: np.ndarray

    @classmethod
    def of(cls, raw: pd.DataFrame, clean: pd.DataFrame, spec: SeriesSpec) -> Rows:
        codes, uniques = pd.factorize(clean[spec.asset].to_numpy(), sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
        return cls(
            groups=list(zip(uniques, np.split(order, bounds), strict=True)),
            values=clean[list(spec.sensors)].to_numpy(float),
            times=clean[spec.time].to_numpy(float),
            raw_times=raw[spec.time].to_numpy(object),
        )

    def given(self, at: np.ndarray) -> list[Any]:
        """The times of rows ``at`` as the caller sent them (JSON-friendly)."""
        return [time_out(v) for v in self.raw_times[at]]


class Scored(NamedTuple):
    """One asset's new rows scored: calibrated scores, standardised points, shares (percent, for
    flagged rows; zero elsewhere) and warnings."""

    scores: np.ndarray
    z: np.ndarray
    shares: np.ndarray
    warnings: list[str]


def score_blocks(
    blocks: list[tuple[np.ndarray, np.ndarray]],
    detector: Detector,
    factors: Sequence[float],
    threshold: float,
    window: int,
    sensors: Sequence[str],
) -> list[Scored]:
    """Score the new rows of several assets in one pass; each block is (rows before, new rows).

    A row whose window holds ``k`` points has its score multiplied by ``factors[k - 1]`` (the
    warm-up calibration). Every row's figures depend only on its own window, so they are the same
    however the rows are batched (whole, in chunks, with other assets).
    """
    if not blocks:
        return []
    sizes = np.array([len(h) + len(n) for h, n in blocks])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    at = np.concatenate(
        [np.arange(s + len(h), s + len(h) + len(n)) for s, (h, n) in zip(starts, blocks, strict=True)]
    )
    rows = np.vstack([part for block in blocks for part in block])
    smoothed, k = trailing_mean(rows, window, np.repeat(starts, sizes), at)
    z = detector.standardise(smoothed)
    scores = detector.score(z) * np.asarray(factors)[k - 1]
    flags = scores > threshold
    shares = np.zeros(z.shape)
    if flags.any():
        shares[flags] = detector.shares(z[flags])
    cuts = np.cumsum([len(n) for _, n in blocks])[:-1]
    out = []
    for sc, zz, sh, sm in zip(*(np.split(x, cuts) for x in (scores, z, shares, smoothed)), strict=True):
        gaps = np.isnan(sm).sum(axis=0)
        warns = [
            f"sensor {name!r} has no reading within the window of {int(gaps[j])} point(s); "
            "it counts as normal at those points"
            for j, name in enumerate(sensors)
            if gaps[j]
        ]
        out.append(Scored(sc, zz, sh, warns))
    return out


def asset_result(
    asset: Any,
    times: list[Any],
    scored: Scored,
    tracker: EventTracker,
    sensors: Sequence[str],
    threshold: float,
) -> dict[str, Any]:
    """One asset's result: every point's score, flag, severity and contributions, the events
    ``tracker`` raises or closes with these points, the threshold and warnings."""
    flags = scored.scores > threshold
    points = [
        {
            "time": t,
            "score": float(s),
            "flagged": bool(f),
            "severity": severity(float(s), threshold),
            "contributions": dict(zip(sensors, scored.shares[i].tolist(), strict=True)) if f else {},
        }
        for i, (t, s, f) in enumerate(zip(times, scored.scores, flags, strict=True))
    ]
    events = tracker.push(times, scored.scores, flags, scored.shares)
    return {
        "asset": plain(asset),
        "points": points,
        "events": events,
        "threshold": threshold,
        "warnings": scored.warnings,
    }


def frame_columns(
    index: pd.Index,
    rows: Rows,
    scored: list[Scored],
    sensors: Sequence[str],
    threshold: float,
    min_event_points: int,
) -> pd.DataFrame:
    """The batch-scoring columns of a table (``index``) whose assets ``rows`` groups and ``scored``
    scores (one :class:`Scored` per asset, in the same order); see
    :meth:`~shopfloor.tasks.anomaly.estimator.AnomalyEstimator.predict_frame`."""
    sensors = list(sensors)
    n = len(index)
    score, event = np.zeros(n), pd.array([pd.NA] * n, dtype="Int64")
    shares = np.full((n, len(sensors)), np.nan)
    for (_, positions), one in zip(rows.groups, scored, strict=True):
        score[positions] = one.scores
        flags = one.scores > threshold
        shares[positions[flags]] = one.shares[flags]
        for number, (a, b) in enumerate(raised_runs(flags, min_event_points), start=1):
            event[positions[a : b + 1]] = number
    flagged = score > threshold
    ratio = score / threshold
    top = np.where(
        flagged, np.array(sensors, dtype=object)[np.argmax(np.nan_to_num(shares, nan=-1), axis=1)], ""
    )
    labels = [severity(s, threshold)["label"] for s in score]
    out = pd.DataFrame(
        {
            "anomaly_score": score,
            "anomaly_flag": flagged,
            "severity": ratio,
            "severity_label": labels,
            "event": event,
            "top_sensor": top,
        },
        index=index,
    )
    for j, name in enumerate(sensors):
        out[f"contribution_{name}"] = shares[:, j]
    return out


def explanation(
    asset: Any, time: Any, scored: Scored, detector: Detector, sensors: Sequence[str], threshold: float
) -> dict[str, Any]:
    """The explanation of an asset's latest point (given at ``time``): its score, severity and each
    sensor's share (percent) of its abnormality, flagged or not."""
    scores = scored.scores
    shares = detector.shares(scored.z[-1:])[0]
    return {
        "asset": plain(asset),
        "time": time,
        "method": "contributions",
        "score": float(scores[-1]),
        "threshold": threshold,
        "flagged": bool(scores[-1] > threshold),
        "severity": severity(float(scores[-1]), threshold),
        "contributions": dict(zip(sensors, shares.tolist(), strict=True)),
        "warnings": scored.warnings,
    }

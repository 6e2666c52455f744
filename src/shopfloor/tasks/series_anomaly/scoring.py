"""Running the detector over points, and the answers built from it (per point, events, batch columns).

:func:`run` feeds a :class:`~shopfloor.tasks.series_anomaly.timeline.Timeline`'s points to
:func:`~shopfloor.tasks.series_anomaly.detector.advance` from a state; :func:`stream_points` does the
same for streamed records one at a time (gaps filled or split as in the batch path, late points
skipped with a warning), so a stream scored point by point matches the batch scoring of its points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from shopfloor.tasks.anomaly.events import EventTracker, severity
from shopfloor.tasks.series_anomaly.detector import Model, advance, restart
from shopfloor.tasks.series_anomaly.timeline import MAX_FILL_STEPS, Timeline, gap_points, gap_steps, time_of


class Run(NamedTuple):
    """Scored points (filled ones included, with r = 0): deviation, score, z, expected and spread."""

    r: np.ndarray
    score: np.ndarray
    z: np.ndarray
    expected: np.ndarray
    spread: np.ndarray


def run(
    model: Model,
    state: dict[str, Any],
    times: np.ndarray,
    values: np.ndarray,
    filled: np.ndarray,
    segment: np.ndarray,
) -> Run:
    """Advance ``state`` through every point (in order); segments restart the level."""
    n, d = values.shape
    r, sc = np.zeros(n), np.zeros(n)
    z, ex, sp = np.zeros((n, d)), np.zeros((n, d)), np.zeros((n, d))
    base = int(state.get("segment", 0)) - (int(segment[0]) if n else 0)
    for i in range(n):
        if int(segment[i]) + base != state["segment"]:
            restart(state)
            state["segment"] = int(segment[i]) + base
        x = values[i].tolist()
        r[i], sc[i], zz, e, s = advance(model, state, float(times[i]), x, learn_only=bool(filled[i]))
        z[i], ex[i], sp[i] = zz, e, s
        if not filled[i]:
            state["last_time"], state["last"] = float(times[i]), x
    return Run(r, sc, z, ex, sp)


def stream_points(
    model: Model,
    state: dict[str, Any],
    records: Sequence[Mapping[str, Any]],
    time_column: str,
    columns: Sequence[str],
    is_datetime: bool,
    gaps: str,
) -> tuple[list[int], list[tuple[float, float, list[float], list[float], list[float]]], list[str]]:
    """Score streamed records in order from ``state``: (records scored, their figures, warnings).

    A record whose time cannot be read, or is not after the stream's last point, is skipped with a
    warning (a stream cannot rewrite its past); a gap is filled or splits the stream as in batch.
    """
    kept, figures, warnings = [], [], []
    for i, record in enumerate(records):
        t = time_of(record.get(time_column), is_datetime)
        if not math.isfinite(t):
            warnings.append(f"record {i}: time {record.get(time_column)!r} cannot be read; skipped")
            continue
        last = state["last_time"]
        if last is not None and t <= last:
            warnings.append(
                f"record {i}: time {record.get(time_column)!r} is not after the stream's last point; skipped"
            )
            continue
        x = [_number(record.get(c)) for c in columns]
        if last is not None:
            missing = gap_steps(t - last, model.step)
            if missing and (gaps != "fill" or missing > MAX_FILL_STEPS):
                restart(state)
                state["segment"] += 1
            elif missing:
                prev = np.array([float("nan") if v is None else v for v in state["last"]], dtype=float)
                ft, fv = gap_points(last, prev, t, np.array(x), model.step)
                for tt, vv in zip(ft.tolist(), fv.tolist(), strict=True):
                    advance(model, state, tt, vv, learn_only=True)
        figures.append(advance(model, state, t, x))
        state["last_time"], state["last"] = t, x
        kept.append(i)
    return kept, figures, warnings


def _number(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return v if math.isfinite(v) else float("nan")


def shares(z: np.ndarray) -> np.ndarray:
    """Each column's share (percent) of each point's deviation."""
    a = np.abs(z)
    total = a.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * a / np.where(total > 0, total, 1.0), 100.0 / z.shape[1])


def _per_column(columns: Sequence[str], row: np.ndarray) -> Any:
    return float(row[0]) if len(columns) == 1 else dict(zip(columns, row.tolist(), strict=True))


def answer(
    times: list[Any],
    values: np.ndarray,
    fig: Run,
    columns: Sequence[str],
    k: float,
    min_event_points: int,
    run_state: dict[str, Any] | None,
    warnings: list[str],
    repairs: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The stream's result for scored real points (``fig``, band ``k``): per point score, flag,
    expected value and band, severity; the events these points raised or closed; the warnings and,
    given, what was repaired. And the open run of flagged points (a stream's state)."""
    flags = fig.r > k
    sh = shares(fig.z) if len(columns) > 1 else np.full((len(times), 1), 100.0)  # one column: all of it
    lower, upper = fig.expected - k * fig.spread, fig.expected + k * fig.spread
    points = [
        {
            "time": t,
            "value": _per_column(columns, np.where(np.isnan(values[i]), np.nan, values[i])),
            "score": float(fig.score[i]),
            "is_anomaly": bool(flags[i]),
            "expected": _per_column(columns, fig.expected[i]),
            "lower": _per_column(columns, lower[i]),
            "upper": _per_column(columns, upper[i]),
            "severity": severity(float(fig.r[i]), k),
            **(
                {"contributions": dict(zip(columns, sh[i].tolist(), strict=True))} if len(columns) > 1 else {}
            ),
        }
        for i, t in enumerate(times)
    ]
    for p in points:  # JSON has no NaN: a missing reading is null
        if isinstance(p["value"], float) and math.isnan(p["value"]):
            p["value"] = None
        elif isinstance(p["value"], dict):
            p["value"] = {c: None if math.isnan(v) else v for c, v in p["value"].items()}
    tracker = EventTracker(columns, min_event_points, k, run_state)
    events = tracker.push(times, fig.r, flags, sh)
    for e in events:
        e["peak_deviation"] = e.pop("peak_score")  # in spreads from the expected value
        if len(columns) == 1:
            e.pop("contributions", None)
    out: dict[str, Any] = {
        "series": None,
        "points": points,
        "events": events,
        "threshold": 0.5,
        "band_width": k,
        "warnings": warnings,
    }
    if repairs is not None:
        out["repairs"] = repairs
    return out, tracker.run


def explanation(result: Mapping[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """The latest point of an :func:`answer`: its score, expected value and each value column's share
    (percent) of its deviation (equal shares where it is not flagged and says none)."""
    last = result["points"][-1]
    sh = shares(np.array([[1.0] * len(columns)]))[0] if not last["is_anomaly"] else None
    contributions = last.get("contributions") or (
        {columns[0]: 100.0}
        if len(columns) == 1
        else dict(zip(columns, sh.tolist() if sh is not None else [], strict=False))
    )
    return {
        "series": None,
        "time": last["time"],
        "method": "contributions",
        "score": last["score"],
        "expected": last["expected"],
        "severity": last["severity"],
        "contributions": contributions,
        "warnings": result["warnings"],
    }


def frame_columns(
    index: pd.Index, tl: Timeline, fig: Run, columns: Sequence[str], k: float, min_event_points: int
) -> pd.DataFrame:
    """The batch-scoring columns of a table (``index``) repaired as ``tl`` and scored as ``fig``: one
    row per input row (see :meth:`~shopfloor.tasks.series_anomaly.estimator.SeriesAnomalyEstimator.
    predict_frame`)."""
    at = tl.point_of_row
    ok = at >= 0
    pick = np.where(ok, at, 0)
    out = pd.DataFrame(index=index)
    r = np.where(ok, fig.r[pick], np.nan)
    out["anomaly_score"] = np.where(ok, fig.score[pick], np.nan)
    out["is_anomaly"] = ok & (np.nan_to_num(r) > k)
    bands = (
        ("expected", fig.expected),
        ("lower", fig.expected - k * fig.spread),
        ("upper", fig.expected + k * fig.spread),
    )
    for name, arr in bands:
        for j, c in enumerate(columns):
            out[name if len(columns) == 1 else f"{name}_{c}"] = np.where(ok, arr[pick, j], np.nan)
    out["severity"] = r / k
    out["severity_label"] = ["" if not np.isfinite(v) else severity(float(v), 1.0)["label"] for v in r / k]
    event = np.zeros(len(tl.times), int)
    number, length, start = 0, 0, -1
    for i in np.flatnonzero(~tl.filled).tolist():  # filled points neither break nor join a run
        if fig.r[i] <= k:
            length = 0
            continue
        length += 1
        start = i if length == 1 else start
        if length == min_event_points:
            number += 1
            event[start : i + 1] = number
        elif length > min_event_points:
            event[i] = number
    ev = np.where(ok, event[pick], 0)
    out["event"] = pd.array([int(e) if e else pd.NA for e in ev], dtype="Int64")
    return out

"""Messy time made regular: one stream's rows as points in time order, with what was repaired.

:func:`repair` turns a table (a time column and value columns) into a :class:`Timeline`: rows whose
time cannot be read are left out, rows are sorted, readings sharing a timestamp are merged (their
mean or the last received), a clock set back by an hour (daylight saving) is counted, and gaps
longer than 1.5 usual steps are filled by straight lines or split the stream into segments. What
was done is counted in ``Timeline.repairs``. Only what cannot be repaired is refused: no readable
time, a value column without a number, too few points.

The stream path reads one record at a time with :func:`time_of` and fills a gap with
:func:`gap_points`, the same function the batch path uses, so both give the same points.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidDataset

#: A gap wider than this many steps is split even when gaps are filled (a stopped line, not a hiccup).
MAX_FILL_STEPS = 1000
#: A gap is a time step longer than this many usual steps.
GAP_FACTOR = 1.5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

Where = Callable[[int | None, str | None], list[Any]]


@dataclass
class Timeline:
    """A stream as regular points: increasing ``times`` (seconds since 1970 for date/times), ``values``
    (points x columns, NaN for a missing reading), which points were ``filled`` into gaps, the
    ``segment`` of each point, each input row's point (-1: left out), each point's last input row
    (-1: filled), the usual ``step`` and the counts of what was repaired."""

    times: np.ndarray
    values: np.ndarray
    filled: np.ndarray
    segment: np.ndarray
    point_of_row: np.ndarray
    row_of_point: np.ndarray
    step: float
    is_datetime: bool
    repairs: dict[str, Any] = field(default_factory=dict)


def _datetimes(column: pd.Series) -> pd.Series:
    """Date/times as UTC (naive times are taken as they are); unreadable ones NaT."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")
        if parsed.isna().sum() > column.isna().sum():
            mixed = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
            if mixed.isna().sum() < parsed.isna().sum():
                parsed = mixed
    return parsed


def parse_times(column: pd.Series) -> tuple[np.ndarray, bool]:
    """A time column as float seconds (date/times) or numbers, NaN where unreadable; and whether it
    holds date/times."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(float), False
    parsed = _datetimes(column)
    ns = parsed.dt.tz_convert(None).to_numpy("datetime64[ns]")
    seconds = ns.astype(np.int64) / 1e9
    seconds[np.isnat(ns)] = np.nan
    if np.isfinite(seconds).any():
        return seconds, True
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(float)
    return (numbers, False) if np.isfinite(numbers).any() else (seconds, True)


def time_of(value: Any, is_datetime: bool) -> float:
    """One record's time as :func:`parse_times` reads it (NaN when unreadable), without pandas for
    ISO 8601 text: the streaming path scores one point per call."""
    if not is_datetime:
        try:
            return float(value)
        except (TypeError, ValueError):
            return float("nan")
    try:
        if isinstance(value, str):
            stamp = datetime.fromisoformat(value)
        elif isinstance(value, datetime):
            stamp = value
        else:
            raise ValueError("not text")
    except ValueError:
        return float(parse_times(pd.Series([value], dtype=object))[0][0])
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return (stamp - _EPOCH) // _MICRO * 1000 / 1e9


def gap_points(
    t0: float, v0: np.ndarray, t1: float, v1: np.ndarray, step: float
) -> tuple[np.ndarray, np.ndarray]:
    """The points filling the gap between (t0, v0) and (t1, v1): evenly spaced about ``step`` apart,
    values on the straight line between (NaN where either end is missing)."""
    m = int(round((t1 - t0) / step)) - 1
    if m < 1:
        return np.empty(0), np.empty((0, len(v0)))
    k = np.arange(1, m + 1) / (m + 1)
    return t0 + k * (t1 - t0), v0[None, :] + k[:, None] * (v1 - v0)[None, :]


def gap_steps(dt: float, step: float) -> int:
    """Missing points in a step of ``dt`` (0 when it is no gap)."""
    return int(round(dt / step)) - 1 if dt > GAP_FACTOR * step else 0


def _refuse(detail: str, loc: list[Any], msg: str) -> InvalidDataset:
    return InvalidDataset(detail, errors=[{"loc": loc, "msg": msg}])


def _numbers(frame: pd.DataFrame, columns: list[str], where: Where) -> np.ndarray:
    values = np.empty((len(frame), len(columns)))
    for j, name in enumerate(columns):
        if name not in frame.columns:
            raise _refuse(f"no value column {name!r}", where(None, name), "column missing")
        values[:, j] = pd.to_numeric(frame[name], errors="coerce").to_numpy(float)
        if not np.isfinite(values[:, j]).any():
            raise _refuse(f"column {name!r} holds no number to watch", where(None, name), "no numeric value")
    values[~np.isfinite(values)] = np.nan
    return values


def _merge(ts: np.ndarray, vs: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points of equal time merged: (times, values, group of each sorted row, last sorted row of each)."""
    first = np.r_[True, np.diff(ts) > 0]
    group = np.cumsum(first) - 1
    last = np.flatnonzero(np.r_[first[1:], True])
    if how == "last" or len(last) == len(ts):
        return ts[first], vs[last], group, last
    starts = np.flatnonzero(first)
    present = np.isfinite(vs)
    sums = np.add.reduceat(np.where(present, vs, 0.0), starts, axis=0)
    counts = np.add.reduceat(present.astype(float), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return ts[first], means, group, last


def repair(
    frame: pd.DataFrame,
    time_column: str,
    value_columns: list[str],
    duplicates: str = "mean",
    gaps: str = "fill",
    where: Where = lambda i, c: ["dataset", *(["row", i + 1] if i is not None else []), "column", c],
) -> Timeline:
    """The rows of ``frame`` as a :class:`Timeline` (see the module docstring); raises
    :class:`InvalidDataset` naming the column (and row) when nothing can be repaired."""
    if time_column not in frame.columns:
        raise _refuse(f"no time column {time_column!r}", where(None, time_column), "column missing")
    if len(frame) == 0:
        raise _refuse("the table has no rows", where(None, None), "no rows")
    seconds, is_dt = parse_times(frame[time_column])
    ok = np.isfinite(seconds)
    if not ok.any():
        raise _refuse(
            f"column {time_column!r} holds no readable date/time or number (row 1: "
            f"{frame[time_column].iloc[0]!r})",
            where(0, time_column),
            "no parseable time",
        )
    values = _numbers(frame, value_columns, where)
    rows = np.flatnonzero(ok)
    t = seconds[rows]
    back = np.diff(t)
    late = int((t[1:] < np.maximum.accumulate(t)[:-1]).sum())
    set_back = int(((back < 0) & (np.abs(back + 3600.0) < 1800.0)).sum()) if is_dt else 0
    order = np.argsort(t, kind="stable")
    ts, rs = t[order], rows[order]
    times, merged, group, last = _merge(ts, values[rs], duplicates)
    point_of_row = np.full(len(frame), -1)
    point_of_row[rs] = group
    row_of_point = rs[last]
    steps = np.diff(times)
    step = float(np.median(steps)) if len(steps) else 1.0
    big = np.flatnonzero(steps > GAP_FACTOR * step)
    fills = {int(i): gap_steps(float(steps[i]), step) for i in big}
    fills = {i: m for i, m in fills.items() if gaps == "fill" and m <= MAX_FILL_STEPS}
    extra = np.zeros(len(times), int)
    for i, m in fills.items():
        extra[i + 1] = m
    index = np.arange(len(times)) + np.cumsum(extra)  # each real point's position among all points
    seg_of_real = np.zeros(len(times), int)
    for b in big.tolist():
        if b not in fills:
            seg_of_real[b + 1 :] += 1
    n = len(times) + int(extra.sum())
    all_t, all_v = np.empty(n), np.empty((n, merged.shape[1]))
    filled, seg, row_of = np.zeros(n, bool), np.zeros(n, int), np.full(n, -1)
    all_t[index], all_v[index], row_of[index], seg[index] = times, merged, row_of_point, seg_of_real
    for i in fills:
        ft, fv = gap_points(float(times[i]), merged[i], float(times[i + 1]), merged[i + 1], step)
        at = np.arange(index[i] + 1, index[i + 1])
        all_t[at], all_v[at], filled[at], seg[at] = ft, fv, True, seg_of_real[i]
    point_of_row[rs] = index[group]
    n_gaps, n_filled, segment = len(big), int(extra.sum()), int(seg_of_real[-1])
    repairs = {
        "rows": int(len(frame)),
        "points": int(len(times)),
        "unreadable_times": int((~ok).sum()),
        "out_of_order_rows": late,
        "sorted": bool(late),
        "duplicate_rows_merged": int(len(ts) - len(times)),
        "duplicated_timestamps": int((np.bincount(group) > 1).sum()),
        "duplicates": duplicates,
        "clock_set_back": set_back,
        "gaps": n_gaps,
        "gap_points_filled": n_filled,
        "segments": int(segment + 1),
        "missing_values": int(np.isnan(merged).sum()),
        "step": step,
        "step_unit": "seconds" if is_dt else "time units",
    }
    return Timeline(all_t, all_v, filled, seg, point_of_row, row_of, step, is_dt, repairs)


def repair_notes(repairs: dict[str, Any]) -> list[str]:
    """What was done to the time axis, in sentences (for warnings and reports)."""
    notes = []
    if repairs["unreadable_times"]:
        notes.append(f"{repairs['unreadable_times']} row(s) with an unreadable time were left out")
    if repairs["out_of_order_rows"]:
        notes.append(f"{repairs['out_of_order_rows']} row(s) arrived out of time order and were sorted")
    if repairs["clock_set_back"]:
        notes.append(
            f"the clock went back one hour {repairs['clock_set_back']} time(s) (daylight saving): "
            "the repeated hour's readings were merged as repeated timestamps"
        )
    if repairs["duplicate_rows_merged"]:
        notes.append(
            f"{repairs['duplicate_rows_merged']} row(s) repeated a timestamp "
            f"({repairs['duplicated_timestamps']} timestamp(s)); kept: {repairs['duplicates']}"
        )
    if repairs["gaps"]:
        notes.append(
            f"{repairs['gaps']} gap(s) in time: {repairs['gap_points_filled']} point(s) filled, "
            f"{repairs['segments']} segment(s)"
        )
    if repairs["missing_values"]:
        notes.append(f"{repairs['missing_values']} missing value(s) count as expected")
    return notes


def labels_of(frame: pd.DataFrame, label_column: str | None, tl: Timeline) -> np.ndarray | None:
    """The known anomalies of ``label_column`` (above 0: abnormal) per point of the repaired
    timeline ``tl`` (a point abnormal when any of its rows is); None without a label column."""
    if label_column is None:
        return None
    if label_column not in frame.columns:
        raise InvalidDataset(
            f"no label column {label_column!r}",
            errors=[{"loc": ["body", "options", "label_column"], "msg": "column missing"}],
        )
    raw = pd.to_numeric(frame[label_column], errors="coerce").fillna(0).to_numpy(float) > 0
    out = np.zeros(len(tl.times))
    rows = np.flatnonzero(tl.point_of_row >= 0)
    np.maximum.at(out, tl.point_of_row[rows], raw[rows].astype(float))
    return out

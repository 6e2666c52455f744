"""An Azure Anomaly Detector univariate request's series, checked and put on a regular grid.

The rules are that API's: 12 to 8640 points; a granularity among its nine, a custom interval of
at least one unit; with a granularity other than none, every point has an ISO 8601 timestamp, the
timestamps ascend with none twice, and each lies a whole number of intervals after the first
(calendar months for monthly and yearly, on the first point's day and time). Points missing from the
grid are filled as ``imputeMode`` says (auto: on the straight line between the neighbours), or
left out with notFill (the points are then taken as evenly spaced). Each refusal names the field
and the point, with the API's error code (as the error item's ``type``, which
:mod:`shopfloor.api.routes.azure_common` answers with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput

MIN_POINTS = 12
MAX_POINTS = 8640
#: Seconds per unit of the fixed-length granularities.
SECONDS = {
    "weekly": 7 * 86400.0,
    "daily": 86400.0,
    "hourly": 3600.0,
    "minutely": 60.0,
    "secondly": 1.0,
    "microsecond": 1e-6,
}
#: Months per unit of the calendar granularities, and their mean length in seconds per month.
MONTHS = {"yearly": 12, "monthly": 1}
MONTH_SECONDS = 365.2425 * 86400.0 / 12
GRANULARITIES = (*MONTHS, *SECONDS, "none")
IMPUTE_MODES = ("auto", "previous", "linear", "fixed", "zero", "notFill")


def invalid(code: str, message: str, *where: str | int) -> InvalidInput:
    """An input error answered with the API's error ``code`` at ``body.<where>``."""
    return InvalidInput(message, errors=[{"loc": ["body", *where], "msg": message, "type": code}])


@dataclass(frozen=True)
class Grid:
    """The series on a regular grid: ``times`` (seconds, ``step`` apart; point numbers without a
    granularity), ``values``, which grid points were ``filled`` (not in the request), whether the
    times are date/times (``dated``), and how many points the request held (``n``)."""

    times: np.ndarray
    values: np.ndarray
    filled: np.ndarray
    step: float
    dated: bool
    n: int


def _stamp(text: Any, i: int) -> datetime:
    if not isinstance(text, str) or not text.strip():
        raise invalid(
            "InvalidSeries",
            f"point {i} has no timestamp; every point needs one unless granularity is none",
            "series", i, "timestamp",
        )
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise invalid(
            "InvalidSeries", f"point {i}: timestamp {text!r} is not an ISO 8601 date/time",
            "series", i, "timestamp",
        ) from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def check_series(
    body: dict[str, Any], granularity_required: bool = False
) -> tuple[list[dict[str, Any]], str, int]:
    """The points, the granularity and the custom interval of a request, or the API's refusal."""
    series = body.get("series")
    if not series:
        raise invalid("RequiredSeries", "the 'series' field is required and must hold points", "series")
    n = len(series)
    if n < MIN_POINTS:
        raise invalid(
            "InvalidSeries", f"the series has {n} point(s); at least {MIN_POINTS} are needed", "series"
        )
    if n > MAX_POINTS:
        raise invalid(
            "InvalidSeries", f"the series has {n} points; at most {MAX_POINTS} are allowed", "series"
        )
    for i, point in enumerate(series):
        if not math.isfinite(point["value"]):
            message = f"point {i}: the value must be a finite number"
            raise invalid("InvalidSeries", message, "series", i, "value")
    granularity = body.get("granularity")
    if granularity is None:
        if granularity_required:
            raise invalid("RequiredGranularity", "the 'granularity' field is required", "granularity")
        granularity = "none"
    if granularity not in GRANULARITIES:
        raise invalid(
            "InvalidGranularity",
            f"granularity {granularity!r} is not one of {', '.join(GRANULARITIES)}",
            "granularity",
        )
    interval = body.get("customInterval")
    if interval is None:
        interval = 1
    elif interval < 1:
        raise invalid(
            "InvalidCustomInterval", f"customInterval must be a whole number >= 1, not {interval}",
            "customInterval",
        )
    return series, granularity, interval


def _positions(series: list[dict[str, Any]], granularity: str, interval: int) -> tuple[np.ndarray, float]:
    """Each point's place on the grid (0 for the first) and the grid's step in seconds."""
    stamps = [_stamp(p.get("timestamp"), i) for i, p in enumerate(series)]
    for i in range(1, len(stamps)):
        if stamps[i] <= stamps[i - 1]:
            order = "repeats" if stamps[i] == stamps[i - 1] else "comes before"
            raise invalid(
                "InvalidSeries",
                f"point {i}: timestamp {series[i]['timestamp']} {order} that of point {i - 1}; "
                "the timestamps must ascend, none twice",
                "series", i, "timestamp",
            )
    first = stamps[0]
    where: list[int] = []
    if granularity in MONTHS:
        unit = MONTHS[granularity] * interval
        step = unit * MONTH_SECONDS
        for i, s in enumerate(stamps):
            months = (s.year - first.year) * 12 + s.month - first.month
            same = (s.day, s.time()) == (first.day, first.time())
            if months % unit or not same:
                raise _off_grid(series, i, granularity, interval)
            where.append(months // unit)
    else:
        step = SECONDS[granularity] * interval
        micro = round(step * 1e6)
        for i, s in enumerate(stamps):
            elapsed = (s - first) // _MICROSECOND
            if elapsed % micro:
                raise _off_grid(series, i, granularity, interval)
            where.append(elapsed // micro)
    return np.array(where, dtype=np.int64), step


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def _off_grid(series: list[dict[str, Any]], i: int, granularity: str, interval: int) -> InvalidInput:
    unit = f"{interval} x {granularity}" if interval > 1 else granularity
    return invalid(
        "InvalidSeries",
        f"point {i}: timestamp {series[i]['timestamp']} is not a whole number of {unit} intervals after "
        f"the first point ({series[0]['timestamp']}); check granularity and customInterval",
        "series", i, "timestamp",
    )


def _filled(values: np.ndarray, at: np.ndarray, size: int, mode: str, fixed: float | None) -> np.ndarray:
    grid = np.full(size, np.nan)
    grid[at] = values
    missing = np.isnan(grid)
    if not missing.any():
        return grid
    if mode in ("auto", "linear"):
        idx = np.arange(size)
        return np.interp(idx, at, values)
    if mode == "previous":
        last = np.maximum.accumulate(np.where(missing, 0, np.arange(size)))
        return grid[last]
    return np.where(missing, 0.0 if mode == "zero" else float(fixed or 0.0), grid)


def grid_of(body: dict[str, Any], granularity_required: bool = False, fill: bool = True) -> Grid:
    """The request's series on its grid (see the module docstring); ``fill``: whether the request
    may say how missing points are filled (``imputeMode``; else they are filled on a straight line)."""
    series, granularity, interval = check_series(body, granularity_required)
    values = np.array([p["value"] for p in series], dtype=float)
    n = len(values)
    if granularity == "none":
        return Grid(np.arange(n, dtype=float), values, np.zeros(n, bool), 1.0, False, n)
    mode = body.get("imputeMode") if fill else None
    mode = "auto" if mode is None else mode
    if mode not in IMPUTE_MODES:
        raise invalid(
            "InvalidImputeMode", f"imputeMode {mode!r} is not one of {', '.join(IMPUTE_MODES)}", "imputeMode"
        )
    fixed = body.get("imputeFixedValue")
    if mode == "fixed" and (fixed is None or not math.isfinite(fixed)):
        raise invalid(
            "InvalidImputeFixedValue",
            "imputeMode fixed needs imputeFixedValue: the finite number to fill missing points with",
            "imputeFixedValue",
        )
    at, step = _positions(series, granularity, interval)
    size = int(at[-1]) + 1
    if mode == "notFill" or size == n:
        return Grid(np.arange(n) * step, values, np.zeros(n, bool), step, True, n)
    if size > MAX_POINTS:
        raise invalid(
            "InvalidSeries",
            f"the series spans {size} {granularity} intervals with {size - n} missing; filled, it would "
            f"exceed {MAX_POINTS} points (send a shorter span, or imputeMode notFill)",
            "series",
        )
    filled = np.ones(size, bool)
    filled[at] = False
    return Grid(np.arange(size) * step, _filled(values, at, size, mode, fixed), filled, step, True, n)

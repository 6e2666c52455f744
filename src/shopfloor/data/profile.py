"""Profile a table: the type a plant engineer would give each column, missing counts and summary stats.

Types: ``numeric``, ``categorical``, ``boolean``, ``datetime``, ``text``, ``id``.
Rules, in order, for each column (looking at its non-missing values):

* bool dtype, or exactly two values forming {0,1}, {true,false}, {yes,no}, {y,n}, {t,f}
  (case-insensitive) -> ``boolean`` (AI4I's 0/1 ``Machine failure`` is boolean);
* datetime dtype, or strings that parse as dates on a sample -> ``datetime``;
* integers, all distinct and strictly increasing, at least ``MIN_ID_ROWS`` -> ``id`` (a row counter);
* other numbers, and strings of which at least 98 % parse as numbers -> ``numeric``
  (``stats["non_numeric"]`` counts the rest and the infinities; consumers must coerce such
  object columns with ``pd.to_numeric(errors="coerce")``);
* strings with mean length over ``TEXT_MIN_LENGTH`` characters, or several words and
  mostly distinct -> ``text`` (work-order descriptions);
* short strings, nearly all distinct, at least ``MIN_ID_ROWS`` -> ``id`` (serial numbers);
* other strings -> ``categorical``.

The output is plain JSON (int, float, str, bool, None): no numpy scalars, no NaN.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

COLUMN_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "id")
MIN_ID_ROWS = 20
ID_DISTINCT_RATIO = 0.95
TEXT_MIN_LENGTH = 30
TEXT_MIN_WORDS = 3.0
TEXT_DISTINCT_RATIO = 0.5
NUMERIC_MIN_PARSED = 0.98
SAMPLE_ROWS = 20_000
DATETIME_SAMPLE = 500
DATETIME_MIN_PARSED = 0.95
TOP_VALUES = 10

_BOOLEAN_PAIRS = (
    frozenset({"0", "1"}),
    frozenset({"true", "false"}),
    frozenset({"yes", "no"}),
    frozenset({"y", "n"}),
    frozenset({"t", "f"}),
)


def profile_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One ``{"name", "type", "missing", "stats"}`` dict per column, in column order.

    ``stats`` depends on the type: numeric -> min, max, mean, std, median;
    categorical and boolean -> distinct, top (``[{"value", "count"}]``, up to 10);
    text -> distinct, mean_length; datetime -> min, max (ISO strings); id -> distinct.
    """
    return [_profile_column(str(name), frame[name]) for name in frame.columns]


def column_types(profile: list[dict[str, Any]]) -> dict[str, str]:
    """``{column name: type}`` from a :func:`profile_frame` result."""
    return {column["name"]: column["type"] for column in profile}


def _profile_column(name: str, series: pd.Series) -> dict[str, Any]:
    values = series.dropna()
    missing = int(len(series) - len(values))
    kind, prepared = _infer(values)
    return {"name": name, "type": kind, "missing": missing, "stats": _stats(kind, prepared)}


def _infer(values: pd.Series) -> tuple[str, pd.Series]:
    """The column type and the values to compute its stats on (parsed dates, strings)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean", values
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime", values
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        if pd.api.types.is_complex_dtype(dtype):
            return "categorical", values.astype(str)
        if _is_boolean_numbers(values):
            return "boolean", values
        if pd.api.types.is_integer_dtype(dtype) and _is_counter(values):
            return "id", values
        return "numeric", values
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric", values.dt.total_seconds()
    if len(values) and all(isinstance(v, bool | np.bool_) for v in values):
        return "boolean", values.astype(bool)
    strings = values if pd.api.types.infer_dtype(values, skipna=True) == "string" else values.astype(str)
    if len(strings) == 0:
        return "categorical", strings
    # Type decisions look at an evenly spaced sample so that a 200 MB upload profiles in seconds.
    sample = strings.iloc[:: max(1, len(strings) // SAMPLE_ROWS)]
    if sample.nunique() <= 8 and _is_boolean_strings(strings):
        return "boolean", strings
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical", strings
    if pd.to_numeric(sample, errors="coerce").notna().mean() >= NUMERIC_MIN_PARSED:
        numbers = pd.to_numeric(strings, errors="coerce")
        if numbers.notna().mean() >= NUMERIC_MIN_PARSED:
            # A numeric column with a few stray entries ("PM01" in a cost column): numeric, strays counted.
            return "numeric", numbers
    date_format = _date_format(sample)
    dates = _to_datetime(strings, date_format) if date_format else None
    if dates is not None:
        return "datetime", dates
    words = sample.str.split().str.len().mean()
    if sample.str.len().mean() > TEXT_MIN_LENGTH or (
        words >= TEXT_MIN_WORDS and sample.nunique() / len(sample) >= TEXT_DISTINCT_RATIO
    ):
        return "text", strings
    if len(strings) >= MIN_ID_ROWS and strings.nunique() / len(strings) >= ID_DISTINCT_RATIO:
        return "id", strings
    return "categorical", strings


def _is_boolean_numbers(values: pd.Series) -> bool:
    if len(values) == 0:
        return False
    distinct = values.unique()
    return len(distinct) == 2 and {float(v) for v in distinct} == {0.0, 1.0}


def _is_boolean_strings(strings: pd.Series) -> bool:
    distinct = strings.unique()
    if len(distinct) > 8:  # case variants of one pair at most; avoid lower-casing a big column
        return False
    lowered = frozenset(str(v).strip().lower() for v in distinct)
    return len(lowered) == 2 and lowered in _BOOLEAN_PAIRS


def _is_counter(values: pd.Series) -> bool:
    return len(values) >= MIN_ID_ROWS and values.is_monotonic_increasing and values.is_unique


def _date_format(sample: pd.Series) -> str | None:
    """``"ISO8601"`` or ``"infer"`` if the sampled strings parse as dates that way, else None."""
    head = sample.iloc[:DATETIME_SAMPLE]
    # Cheap filter first: dates have digits and a separator; plain numbers ("2020", "1.5") are not dates.
    looks = head.str.contains(r"\d", regex=True) & head.str.contains(r"[-/:.T ]\d", regex=True)
    looks &= ~head.str.fullmatch(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")
    if looks.mean() < DATETIME_MIN_PARSED:
        return None
    for fmt in ("ISO8601", "infer"):
        parsed = _to_datetime(head, fmt)
        if parsed is not None and parsed.notna().mean() >= DATETIME_MIN_PARSED:
            return fmt
    return None


def _to_datetime(strings: pd.Series, fmt: str) -> pd.Series | None:
    """Parsed dates (NaT where unparseable), or None if pandas gives up on the column."""
    fmt_arg = None if fmt == "infer" else fmt
    try:
        with warnings.catch_warnings():
            # pandas warns when it cannot infer one format and falls back to dateutil per element.
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(strings, format=fmt_arg, errors="coerce")
            if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):  # mixed UTC offsets
                parsed = pd.to_datetime(strings, format=fmt_arg, errors="coerce", utc=True)
            return parsed
    except (ValueError, TypeError, OverflowError) as exc:  # mixed time zones and other oddities
        logger.debug("date parsing failed: %s", exc)
        return None


def _stats(kind: str, values: pd.Series) -> dict[str, Any]:
    if kind == "numeric":
        numbers = values.astype(float)
        numbers = numbers[np.isfinite(numbers)]
        extra = {"non_numeric": int(len(values) - len(numbers))} if len(values) != len(numbers) else {}
        if len(numbers) == 0:
            return {"min": None, "max": None, "mean": None, "std": None, "median": None, **extra}
        return {
            **extra,
            "min": _float(numbers.min()),
            "max": _float(numbers.max()),
            "mean": _float(numbers.mean()),
            "std": _float(numbers.std()),
            "median": _float(numbers.median()),
        }
    if kind in ("categorical", "boolean"):
        counts = values.value_counts()
        top = [
            {"value": _plain(value), "count": int(count)} for value, count in counts.iloc[:TOP_VALUES].items()
        ]
        return {"distinct": int(len(counts)), "top": top}
    if kind == "text":
        return {"distinct": int(values.nunique()), "mean_length": _float(values.str.len().mean())}
    if kind == "datetime":
        dates = values.dropna()
        if len(dates) == 0:
            return {"min": None, "max": None}
        return {"min": _iso(dates.min()), "max": _iso(dates.max())}
    return {"distinct": int(values.nunique())}


def _float(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _iso(value: Any) -> str | None:
    return None if value is pd.NaT or pd.isna(value) else pd.Timestamp(value).isoformat()


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar for a value from a pandas index."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() else value
    return str(value)

"""Wide demand tables (one row per series, one column per period) turned into long form at upload.

Period columns are found by name: a run of at least three columns named by one prefix and a period
number (``W0 ... W51``, ``week_1 ...``), or columns whose names are dates (``2024-01-07 ...``).
When several runs exist (``W0..W51`` and ``Normalized 0..51``), the first one is taken unless the
upload names the prefix; the other columns are left out and listed (derived columns such as min,
max or normalised copies would leak the future into a forecast). The result has three columns:
the series id (its own name), ``period`` (the number or date) and ``value``, and the conversion
is reported so the upload's answer shows what was done.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidDataset

_NUMBERED = re.compile(r"^(.*?)(\d+)$")
MIN_PERIODS = 3


def _field(field: str, detail: str) -> InvalidDataset:
    return InvalidDataset(detail, errors=[{"loc": ["body", field], "msg": detail}])


def _runs(columns: list[str]) -> dict[str, list[tuple[str, Any]]]:
    """Candidate period columns by prefix ("" for dates): [(column, period)] in column order."""
    runs: dict[str, list[tuple[str, Any]]] = {}
    for name in columns:
        match = _NUMBERED.match(name.strip())
        if match and not re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", name.strip()):
            runs.setdefault(match.group(1), []).append((name, int(match.group(2))))
            continue
        stamp = pd.to_datetime(name, errors="coerce") if re.search(r"\d{4}", name) else pd.NaT
        if not pd.isna(stamp):
            runs.setdefault("", []).append((name, pd.Timestamp(stamp)))
    return {k: v for k, v in runs.items() if len(v) >= MIN_PERIODS}


def _choose_prefix(
    runs: dict[str, list[tuple[str, Any]]], columns: list[str], period_prefix: str | None
) -> str:
    """The run of period columns to use: the one the upload names, else the first in the table."""
    if period_prefix is not None:
        if period_prefix not in runs:
            found = ", ".join(repr(k) for k in runs) or "none"
            raise _field(
                "period_prefix",
                f"no run of at least {MIN_PERIODS} columns named {period_prefix!r} + a number; found {found}",
            )
        return period_prefix
    if runs:
        return min(runs, key=lambda k: columns.index(runs[k][0][0]))
    raise _field(
        "layout",
        "a wide table needs period columns named by a prefix and a number (W0, W1, ...) or by dates",
    )


def _choose_series_column(columns: list[str], period_names: list[str], series_column: str | None) -> str:
    """The series id column: the one named, else the first column that is not a period."""
    if series_column is None:
        rest = [c for c in columns if c not in period_names]
        if not rest:
            raise _field("series_column", "the table has no column for the series id")
        series_column = rest[0]
    elif series_column not in columns:
        raise _field("series_column", f"no column {series_column!r} in the table")
    if series_column in period_names:
        raise _field("series_column", f"{series_column!r} is one of the period columns")
    return series_column


def _check_ids(ids: pd.Series, series_column: str) -> None:
    """Refuse a row without a series id or a series on two rows, naming the line."""
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InvalidDataset(
            f"row {row + 1} has no series id in {series_column!r}",
            errors=[{"loc": ["line", row + 2, series_column], "msg": "missing series id"}],
        )
    if ids.duplicated().any():
        row = int(np.flatnonzero(ids.duplicated().to_numpy())[0])
        raise InvalidDataset(
            f"series {ids.iloc[row]!r} appears on two rows (line {row + 2}); "
            "a wide table has one row per series",
            errors=[{"loc": ["line", row + 2, series_column], "msg": "duplicate series id"}],
        )


def _numeric_values(frame: pd.DataFrame, period_names: list[str]) -> pd.DataFrame:
    """The period columns as numbers; a cell that is not one is refused by line and column."""
    values = frame[period_names].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & frame[period_names].notna()
    if bad.to_numpy().any():
        row, col = (int(v[0]) for v in np.nonzero(bad.to_numpy()))
        raise InvalidDataset(
            f"line {row + 2}, column {period_names[col]!r}: "
            f"{frame[period_names[col]].iloc[row]!r} is not a number",
            errors=[{"loc": ["line", row + 2, period_names[col]], "msg": "not a number"}],
        )
    return values


def to_long(
    frame: pd.DataFrame, series_column: str | None = None, period_prefix: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The long table (series id, ``period``, ``value``) and a report of the conversion.

    Raises :class:`InvalidDataset` naming the field, column or row that prevents it.
    """
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    runs = _runs(columns)
    prefix = _choose_prefix(runs, columns, period_prefix)
    periods = runs[prefix]
    period_names = [name for name, _ in periods]
    series_column = _choose_series_column(columns, period_names, series_column)
    ids = frame[series_column]
    _check_ids(ids, series_column)
    values = _numeric_values(frame, period_names)
    order = sorted(range(len(periods)), key=lambda k: periods[k][1])
    long = pd.DataFrame(
        {
            series_column: np.repeat(ids.astype(str).to_numpy(), len(order)),
            "period": np.tile([periods[k][1] for k in order], len(frame)),
            "value": values[[period_names[k] for k in order]].to_numpy(dtype=float).reshape(-1),
        }
    )
    return long, _report(columns, series_column, prefix, periods, order, len(frame), len(long))


def _report(
    columns: list[str],
    series_column: str,
    prefix: str,
    periods: list[tuple[str, Any]],
    order: list[int],
    wide_rows: int,
    long_rows: int,
) -> dict[str, Any]:
    """What the conversion did: the series column, the period run taken, the columns left out."""
    period_names = [name for name, _ in periods]
    dropped = [c for c in columns if c not in period_names and c != series_column]
    first, last = periods[order[0]], periods[order[-1]]
    return {
        "from": "wide",
        "series_column": series_column,
        "period_columns": {
            "prefix": prefix,
            "count": len(periods),
            "first": first[0],
            "last": last[0],
            "periods": "dates" if prefix == "" else f"{first[1]}..{last[1]}",
        },
        "dropped_columns": dropped,
        "rows": {"wide": wide_rows, "long": long_rows},
        "columns": [series_column, "period", "value"],
    }

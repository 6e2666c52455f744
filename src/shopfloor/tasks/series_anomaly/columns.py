"""Which columns of a table are the time and the values of a series_anomaly model.

The options name them; where they do not, the time is the one date/time column (by the dataset's
profile or the table's types), else the one column named like a time, and the values are every
other numeric column but the label column. A 422 names the option to set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from shopfloor.errors import InvalidInput

#: Column names taken for the time when no column is typed as a date/time.
TIME_NAMES = ("time", "timestamp", "datetime", "date", "ts")


def settle_columns(
    time_column: str | None,
    value_columns: Sequence[str] | None,
    label_column: str | None,
    names: Sequence[str],
    numeric: Callable[[str], bool],
    is_time: Callable[[str], bool],
    where: str,
) -> tuple[str, list[str]]:
    """The time column and value columns: those given, else found (a 422 naming the option)."""
    time_col = time_column
    if time_col is None:
        found = [c for c in names if is_time(c)] or [c for c in names if c.lower() in TIME_NAMES]
        if len(found) != 1:
            raise InvalidInput(
                f"name the time column in options.time_column ({where} has "
                f"{len(found) or 'no'} date/time columns)",
                errors=[{"loc": ["body", "options", "time_column"], "msg": "field required"}],
            )
        time_col = found[0]
    values = list(value_columns) if value_columns is not None else None
    if values is None:
        values = [c for c in names if c not in (time_col, label_column) and numeric(c)]
    bad = [c for c in values if c not in names or c == time_col or not numeric(c)]
    if not values or bad:
        raise InvalidInput(
            f"value columns must be numeric columns of {where} besides the time: "
            + (", ".join(map(repr, bad)) if bad else "none found"),
            errors=[{"loc": ["body", "options", "value_columns"], "msg": "no numeric value column"}],
        )
    return time_col, values


def frame_columns_of(
    frame: pd.DataFrame,
    time_column: str | None,
    value_columns: Sequence[str] | None,
    label_column: str | None,
    column_types: Mapping[str, str],
) -> tuple[str, list[str]]:
    """:func:`settle_columns` on a table: its dtypes and the profile's ``column_types``. A value
    column named in the options is read as numbers whatever its dtype (the repair refuses it if
    it holds none)."""

    def numeric(c: str) -> bool:
        named = c in (value_columns or ())
        return named or (pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]))

    def is_time(c: str) -> bool:
        return pd.api.types.is_datetime64_any_dtype(frame[c]) or column_types.get(c) == "datetime"

    names = [str(c) for c in frame.columns]
    return settle_columns(time_column, value_columns, label_column, names, numeric, is_time, "the table")

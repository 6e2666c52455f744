"""Tables the server hands back as CSV, safe to open in a spreadsheet.

A scored file carries the uploaded columns back, so a text cell such as ``=HYPERLINK(...)``
would run as a formula when someone opens the result in Excel or LibreOffice (CSV injection).
As OWASP recommends, a text cell (or column name) that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return (also after leading spaces, and the full-width forms of the four
characters) gets a single quote in front, so the spreadsheet shows it as text. Numbers are left
as they are: numeric columns are written as numbers, and a text cell that is a plain number
(``-3.5``, ``+2e3``) is no formula and keeps its value.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

# What a spreadsheet reads as the start of a formula (or a DDE call), full-width forms included.
_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_CONTROL = ("\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading single quote if it is text a spreadsheet would run as a formula."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_CONTROL):
        return "'" + value
    stripped = value.lstrip(" \n")
    if stripped[:1] in _TRIGGERS and not _NUMBER.fullmatch(stripped):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot start a formula."""
    out = frame.rename(columns=lambda c: neutralise_cell(c) if isinstance(c, str) else c)
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue  # written as numbers and dates, never as formulas
        out.isetitem(position, column.astype(object).map(neutralise_cell))
    return out


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV without the index, neutralised by :func:`safe_frame`."""
    return safe_frame(frame).to_csv(index=False).encode()

"""The whitespace-separated text reader behind :func:`~shopfloor.data.parse.read_table`.

This is the layout of NASA's C-MAPSS ``train_FD001.txt``: fields split by runs of spaces or
tabs, lines that may end in spaces, often no header line. The format is never guessed: the
caller names it. By the time these functions run, :mod:`shopfloor.data.parse` has refused
binary files and invalid UTF-8; here every line's field count is checked (naming the line)
before pandas reads the file once.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pandas as pd

from shopfloor.data.parse_common import (
    check_header,
    invalid,
    names_mismatch,
    no_rows,
    pandas_read,
    wrong_width,
)

# A field that reads as a number (NaN and infinities included): a line of these is data, not a header.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|(?i:[+-]?inf(inity)?|nan)")
# pandas' C tokenizer splits whitespace-separated text on spaces and tabs only; so does this check.
_BLANKS = re.compile(r"[ \t]+")


def check_lines(path: Path, label: str, names: list[str] | None) -> bool:
    """The header line and the field count of every line of a whitespace-separated file.

    Without ``names`` the first non-blank line must be a header (its fields are not all
    numbers). Returns whether the file has a header line.
    """
    width = len(names) if names is not None else None
    header = False
    rows = 0
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            fields = _fields(line)
            if not fields:
                continue
            if width is None:
                if all(_NUMBER.fullmatch(field) for field in fields):
                    raise invalid(
                        f"{label}: line {number} is all numbers, so the file has no header line; "
                        f"give the names of its {len(fields)} columns with columns (comma-separated)",
                        ["body", "columns"],
                        f"column names required for {len(fields)} fields",
                    )
                check_header(fields, number, label)
                width, header = len(fields), True
                continue
            rows += 1
            if len(fields) != width:
                if names is not None and rows == 1:
                    raise names_mismatch(label, names, number, len(fields))
                like = "the header" if names is None else "the column names given"
                raise wrong_width(
                    f"{label}: line {number} has {len(fields)} fields, expected {width} like {like} "
                    "(fields separated by spaces or tabs); check for a missing or an extra value",
                    number,
                    width,
                    len(fields),
                )
    if width is None:
        raise invalid(f"{label}: the file has only blank lines", ["file"], "no header")
    if rows == 0:
        raise no_rows(label, names)
    return header


def _fields(line: str) -> list[str]:
    stripped = line.strip(" \t\r\n")
    return _BLANKS.split(stripped) if stripped else []


def read_whitespace(path: Path, label: str, header: bool, names: list[str] | None) -> pd.DataFrame:
    """The checked file as a frame; ``names`` are its column names when it has no ``header`` line."""
    # No quoting: a '"' is part of a field, as the field count check saw it.
    options: dict[str, Any] = {"sep": r"\s+", "quoting": csv.QUOTE_NONE}
    if not header:
        options.update(header=None, names=names)
    return pandas_read(path, label, "whitespace-separated file", options)

"""What the table readers of :mod:`shopfloor.data.parse` and :mod:`shopfloor.data.parse_text` share.

The header-name check, the errors for lines of the wrong width, and the one guarded pandas read
that turns any pandas failure into a sentence naming the file. Keeping them here lets both readers
import them without importing each other.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from shopfloor.errors import InvalidDataset, ShopfloorError

logger = logging.getLogger(__name__)


def invalid(detail: str, loc: list[Any], msg: str | None = None) -> InvalidDataset:
    """An :class:`InvalidDataset` with one error at ``loc`` (its message ``msg``, else ``detail``)."""
    return InvalidDataset(detail, errors=[{"loc": loc, "msg": msg or detail}])


def check_header(header: list[str], line: int, label: str) -> None:
    """Refuse blank (after stripping) and duplicate column names, naming their 1-based positions."""
    blank = [pos for pos, name in enumerate(header, start=1) if not name.strip()]
    errors: list[dict[str, Any]] = [
        {"loc": ["line", line, "column", pos], "msg": "blank column name"} for pos in blank
    ]
    parts = [f"blank column name at position(s) {blank}"] if blank else []
    for name, count in Counter(header).items():
        if count > 1 and name.strip():
            positions = [pos for pos, other in enumerate(header, start=1) if other == name]
            message = f"duplicate column name {name!r} at positions {positions}"
            errors.append({"loc": ["line", line, "column", positions[1]], "msg": message})
            parts.append(message)
    if errors:
        raise InvalidDataset(
            f"{label}: the header has {'; '.join(parts)} (positions count from 1)", errors=errors
        )


def no_rows(label: str, names: list[str] | None) -> InvalidDataset:
    """A text file with a header (or the caller's ``names``) but no data line."""
    where = "a header but no data rows" if names is None else "no data rows"
    return invalid(f"{label}: the file has {where}", ["file"], "no data rows")


def wrong_width(detail: str, line: int, expected: int, found: int) -> InvalidDataset:
    """A line with the wrong number of fields; the figures travel on the error for the upload report."""
    return InvalidDataset(
        detail,
        errors=[{"loc": ["line", line], "msg": f"expected {expected} fields, saw {found}"}],
        line=line,
        expected=expected,
        found=found,
    )


def names_mismatch(label: str, names: list[str], line: int, found: int) -> InvalidDataset:
    """The caller's column names do not match the fields of the first data line."""
    return InvalidDataset(
        f"{label}: columns gives {len(names)} names but line {line}, the first data line, has {found} "
        "fields; give one name per field",
        errors=[{"loc": ["body", "columns"], "msg": f"{len(names)} names for {found} fields"}],
        line=line,
        expected=len(names),
        found=found,
    )


def pandas_read(path: Path, label: str, what: str, options: dict[str, Any]) -> pd.DataFrame:
    """Read checked text with pandas' C engine; ``what`` names the format in the error message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(
                path, encoding="utf-8-sig", index_col=False, low_memory=False, engine="c", **options
            )
    except ShopfloorError:
        raise
    except Exception as exc:  # pandas raises many types; the user needs one sentence
        logger.info("pandas could not read %s: %s", label, exc)
        raise invalid(f"{label}: cannot read the {what}: {exc}", ["file"], str(exc)) from None
    return finish(frame, label)


def finish(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Refuse a frame without columns or rows; make the column names text."""
    if frame.shape[1] == 0:
        raise invalid(f"{label}: the file has no columns", ["file"], "no columns")
    if len(frame) == 0:
        raise invalid(f"{label}: the file has a header but no data rows", ["file"], "no data rows")
    frame.columns = [str(c) for c in frame.columns]
    logger.debug("read %s: %d rows x %d columns", label, len(frame), frame.shape[1])
    return frame

"""Read an uploaded table (CSV, Parquet or whitespace-separated text) into a DataFrame, or say what is wrong.

CSV files are checked in two streaming passes before pandas reads them, because
pandas is silent or vague about the problems plant data actually has: a short
row is padded with NaN, a duplicate header becomes ``x.1``, invalid UTF-8 gives
a byte offset without a line. Pass one reads bytes (binary detection, UTF-8,
NUL), pass two reads records with the :mod:`csv` module (header names, field
counts). Neither holds more than one chunk; pandas then reads the file once.
Every failure is a :class:`~shopfloor.errors.ShopfloorError`: no pandas or
pyarrow exception escapes.

Whitespace-separated text (NASA's C-MAPSS ``train_FD001.txt``: fields split by runs of
spaces or tabs, trailing spaces, often no header line) is never guessed: the caller names
the format. Its bytes get the same pass one here; :mod:`shopfloor.data.parse_text` checks the
field count of each line and reads it. What both readers share (header check, error shapes, the
guarded pandas read) is in :mod:`shopfloor.data.parse_common`.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from shopfloor.data.parse_common import (
    check_header,
    finish,
    invalid,
    names_mismatch,
    no_rows,
    pandas_read,
    wrong_width,
)
from shopfloor.data.parse_text import check_lines, read_whitespace
from shopfloor.errors import InvalidDataset, InvalidInput, UnsupportedMediaType

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
FORMATS = ("auto", "csv", "parquet", "whitespace")
PARQUET_MAGIC = b"PAR1"
_COMMA_NUMBER = re.compile(r"^[+-]?\d+,\d+$")
_POINT_NUMBER = re.compile(r"^[+-]?\d*\.\d+$")

# Leading bytes of formats people upload by mistake, and how to name them to the user.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive or an Excel .xlsx workbook"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.xls)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"ARROW1", "an Arrow/Feather file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "an executable"),
)


def read_table(
    path: Path, filename: str | None = None, *, format: str = "auto", columns: list[str] | None = None
) -> pd.DataFrame:
    """Read ``path`` as Parquet, delimited UTF-8 text, or whitespace-separated text.

    ``format``: ``auto`` (Parquet by its magic bytes, else delimited text with the delimiter
    sniffed), ``csv``, ``parquet`` or ``whitespace`` (fields split by runs of spaces or tabs, no
    quoting). ``columns`` names the columns of a text file that has no header line: every line
    is then data. A whitespace file without ``columns`` must start with a header line, one whose
    fields are not all numbers. ``filename`` is the name the user gave (only used in messages).
    Column names are kept as given; values keep pandas' inferred dtypes.

    Raises:
        InvalidInput: an unknown ``format``; blank or duplicate names in ``columns``.
        UnsupportedMediaType: a binary file that is not Parquet (zip, xlsx, image, ...).
        InvalidDataset: empty file, no data rows, invalid UTF-8 (line and byte offset),
            rows with the wrong number of fields (line, expected and found), ``columns`` not
            matching the fields of the first line, a whitespace file without header or ``columns``,
            duplicate or blank column names (positions), an unreadable Parquet file, a file that
            is not of the format asked for.
    """
    check_format(format)
    if columns is not None:
        check_names(columns)
    path = Path(path)
    label = filename or path.name
    with path.open("rb") as handle:
        head = handle.read(16)
        size = handle.seek(0, 2)
        tail = b""
        if size >= 8:
            handle.seek(size - 4)
            tail = handle.read(4)
    if size == 0:
        raise InvalidDataset(
            f"{label}: the file is empty", errors=[{"loc": ["file"], "msg": "the file is empty"}]
        )
    if head.startswith(PARQUET_MAGIC):
        if format in ("csv", "whitespace"):
            raise invalid(
                f"{label} is a Parquet file, not {format} text; upload it with format parquet (or auto)",
                ["body", "format"],
                f"Parquet file, not {format}",
            )
        if columns is not None:
            raise invalid(
                f"{label}: columns names the columns of a text file without a header line; "
                "a Parquet file carries its own column names",
                ["body", "columns"],
                "not for Parquet files",
            )
        if tail != PARQUET_MAGIC:
            raise invalid(f"{label}: looks like Parquet but is truncated (no closing PAR1 marker)", ["file"])
        return _read_parquet(path, label)
    _reject_binary(head, label)
    if format == "parquet":
        raise invalid(f"{label} is not Parquet (no PAR1 marker at its start)", ["file"], "not Parquet")
    _scan_bytes(path, label)
    if format == "whitespace":
        header = check_lines(path, label, columns)
        return read_whitespace(path, label, header, columns)
    delimiter, decimal = _sniff_delimiter(path)
    _check_records(path, delimiter, label, columns)
    return _read_csv(path, delimiter, decimal, label, columns)


def check_format(format: str) -> str:
    """``format`` if it is one :func:`read_table` knows, else :class:`InvalidInput` naming the field."""
    if format not in FORMATS:
        raise InvalidInput(
            f"unknown format {format!r}; use one of: {', '.join(FORMATS)}",
            errors=[{"loc": ["body", "format"], "msg": f"one of {', '.join(FORMATS)}"}],
        )
    return format


def check_names(names: list[str]) -> list[str]:
    """``names`` (the caller's column names), or :class:`InvalidInput` for none, blanks or duplicates."""
    blank = [pos for pos, name in enumerate(names, start=1) if not name.strip()]
    duplicated = sorted({name for name, count in Counter(names).items() if count > 1})
    what = None
    if not names:
        what = "no names"
    elif blank:
        what = f"blank name(s) at position(s) {blank}"
    elif duplicated:
        what = f"duplicate name(s) {', '.join(map(repr, duplicated))}"
    if what is not None:
        raise InvalidInput(
            f"columns has {what}; give one distinct name per field, separated by commas",
            errors=[{"loc": ["body", "columns"], "msg": what}],
        )
    return names


def _not_tabular(label: str, what: str) -> UnsupportedMediaType:
    detail = f"{label} is {what}: neither CSV nor Parquet; export the table as CSV (UTF-8) or Parquet"
    return UnsupportedMediaType(detail, errors=[{"loc": ["file"], "msg": f"{what}, not CSV or Parquet"}])


def _reject_binary(head: bytes, label: str) -> None:
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise _not_tabular(label, what)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise invalid(
            f"{label} is UTF-16 text; save it as CSV UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')",
            ["file"],
            "UTF-16 encoding, expected UTF-8",
        )


def _scan_bytes(path: Path, label: str) -> None:
    """Pass one: refuse NUL bytes (binary data) and invalid UTF-8, naming the line and byte offset."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    newlines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise _not_tabular(label, f"binary data (a NUL byte at offset {offset + nul})")
            # Bytes of a multi-byte character split by the previous chunk boundary sit in the decoder.
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset - pending + exc.start
                line = newlines + chunk.count(b"\n", 0, max(0, bad - offset)) + 1
                raise invalid(
                    f"{label} is not valid UTF-8: byte 0x{exc.object[exc.start]:02x} at offset {bad} "
                    f"(line {line}); save the file as CSV UTF-8",
                    ["line", line],
                    f"invalid UTF-8 byte at offset {bad}",
                ) from None
            newlines += chunk.count(b"\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            line = newlines + 1
            raise invalid(
                f"{label} is not valid UTF-8: the file ends inside a multi-byte character "
                f"(offset {offset - len(decoder.getstate()[0])}, line {line})",
                ["line", line],
                "truncated UTF-8 character at the end of the file",
            ) from None


def _sniff_delimiter(path: Path) -> tuple[str, str]:
    """The delimiter (among , ; tab |) that splits the first lines most consistently, and the decimal mark.

    Defaults: comma and point. A decimal comma is assumed only with another delimiter
    and when the sample has numbers like ``1,5`` but none like ``1.5``.
    """
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(SNIFF_BYTES)
    if len(sample) == SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]  # drop a partial last line
    best, best_score, best_rows = ",", (0, 0), []
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(sample.splitlines()[:50], delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(row) == width for row in rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score, best_rows = delimiter, score, rows
    decimal = "."
    if best != ",":
        fields = [field.strip() for row in best_rows[1:] for field in row]
        if any(_COMMA_NUMBER.match(f) for f in fields) and not any(_POINT_NUMBER.match(f) for f in fields):
            decimal = ","
    return best, decimal


def _check_records(path: Path, delimiter: str, label: str, names: list[str] | None = None) -> None:
    """Pass two: header names and the field count of every record, streamed with the csv module.

    With ``names`` the file has no header line: the first record is data and must match them.
    """
    header: list[str] | None = names
    rows = 0
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        previous_end = 0
        try:
            for record in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if not record:  # blank line: pandas skips these too
                    continue
                if header is None:
                    header = record
                    check_header(header, start, label)
                    continue
                rows += 1
                if len(record) != len(header):
                    if names is not None and rows == 1:
                        raise names_mismatch(label, names, start, len(record))
                    found, expected = len(record), len(header)
                    where = f"line {start}"
                    hint = "check for a missing or extra delimiter or an unquoted value"
                    if reader.line_num > start:
                        # A quoted field ran over several lines: usually a quote that is never closed.
                        where = f"the record starting on line {start} (running to line {reader.line_num})"
                        hint = f"check for an unbalanced double quote on line {start}"
                    like = "the header" if names is None else "the column names given"
                    raise wrong_width(
                        f"{label}: {where} has {found} fields, expected {expected} like {like} "
                        f"(delimiter {delimiter!r}); {hint}",
                        start,
                        expected,
                        found,
                    )
        except csv.Error as exc:
            line = reader.line_num
            raise invalid(f"{label}: cannot read line {line}: {exc}", ["line", line], str(exc)) from None
    if header is None:
        raise invalid(f"{label}: the file has no header and no rows", ["file"], "no header")
    if rows == 0:
        raise no_rows(label, names)


def _read_csv(
    path: Path, delimiter: str, decimal: str, label: str, names: list[str] | None = None
) -> pd.DataFrame:
    options: dict[str, Any] = {"sep": delimiter, "decimal": decimal}
    if names is not None:
        options.update(header=None, names=names)
    return pandas_read(path, label, "CSV", options)


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        names = [str(name) for name in pq.read_schema(path).names]
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        logger.info("pyarrow could not read %s: %s", label, exc)
        raise invalid(f"{label}: cannot read the Parquet file: {exc}", ["file"], str(exc)) from None
    check_header(names, 1, label)
    try:
        table = pq.read_table(path)
    except Exception as exc:
        logger.info("pyarrow could not read %s: %s", label, exc)
        raise invalid(f"{label}: cannot read the Parquet file: {exc}", ["file"], str(exc)) from None
    try:
        frame = table.to_pandas()
    except Exception as exc:
        logger.info("pyarrow could not convert %s: %s", label, exc)
        raise invalid(f"{label}: cannot convert the Parquet file: {exc}", ["file"], str(exc)) from None
    return finish(frame, label)

"""Validate predict records against a model's input schema, fast enough for every call.

:func:`compile_schema` turns the schema into a :class:`Validator` once (keep it with
the loaded model); calling it is a plain loop over precomputed ``(name, checker)``
pairs, about a microsecond for a one-record request. Extra fields are ignored,
``None`` means missing (the model imputes it). Every bad field is reported with its
place, ``["body", "records", i, column]``, up to :data:`MAX_REPORTED` errors.
"""

from __future__ import annotations

import logging
import math
import reprlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput, PayloadTooLarge

logger = logging.getLogger(__name__)

MAX_REPORTED = 50
_MISSING = object()

#: A checker returns None for an acceptable value, else the error message.
Checker = Callable[[Any], str | None]


def _show(value: Any) -> str:
    # reprlib stops a few levels down: a deeply nested JSON value cannot exhaust the stack here
    text = reprlib.repr(value) if isinstance(value, dict | list | tuple) else repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"


#: No process value is this large; beyond it products of features overflow to infinity.
MAX_MAGNITUDE = 1e15


def _check_numeric(value: Any) -> str | None:
    kind = type(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or kind not in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {_show(value)}"
    if kind is float and not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    if abs(value) > MAX_MAGNITUDE:
        return f"number out of range: {value!r} (at most {MAX_MAGNITUDE:g} in absolute value)"
    return None


def _check_categorical(value: Any) -> str | None:
    kind = type(value)
    if kind is str or kind is int or value is None:
        return None
    if kind is float:
        return None if math.isfinite(value) else f"expected a category (string or number), got {value!r}"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"expected a category (string or number), got {_show(value)}"
    return None


def _check_boolean(value: Any) -> str | None:
    if value is True or value is False or value is None:
        return None
    kind = type(value)
    if (kind is int or kind is float) and (value == 0 or value == 1):
        return None
    return f"expected true/false or 0/1, got {_show(value)}"


def _boolean_with(labels: frozenset[str]) -> Checker:
    """Boolean checker that also accepts the column's own labels (e.g. "yes"/"no") from the schema."""

    def check(value: Any) -> str | None:
        if type(value) is str and value in labels:
            return None
        message = _check_boolean(value)
        if message is not None:
            return f"{message}; accepted labels: {sorted(labels)}"
        return None

    return check


def _check_string(expected: str) -> Checker:
    def check(value: Any) -> str | None:
        if type(value) is str or value is None or isinstance(value, str):
            return None
        return f"expected {expected}, got {_show(value)}"

    return check


def _check_any(value: Any) -> str | None:
    return None


def _check_image(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray) and value:
        return None
    if isinstance(value, str) and value.strip():
        return None
    return f"expected an image (base64 text in JSON, or a file in a multipart request), got {_show(value)}"


def _check_waveform(value: Any) -> str | None:
    if isinstance(value, list) and value:
        return None
    if isinstance(value, np.ndarray) and value.size:  # read from a recording file (multipart)
        return None
    if isinstance(value, str) and value.strip():
        return None
    return (
        "expected samples (a list of numbers, base64 of little-endian float32, or a recording file "
        f"in a multipart request), got {_show(value)}"
    )


_CHECKERS: dict[str, Checker] = {
    "numeric": _check_numeric,
    "categorical": _check_categorical,
    "boolean": _check_boolean,
    "datetime": _check_string("a date/time string (ISO 8601, e.g. '2024-05-01T08:30:00')"),
    "text": _check_string("a string"),
    "image": _check_image,
    "waveform": _check_waveform,
}


class Validator:
    """A compiled input schema: ``validator(records, max_records)`` raises or returns None."""

    __slots__ = ("fields", "names")

    def __init__(self, fields: Sequence[tuple[str, Checker]]) -> None:
        self.fields: tuple[tuple[str, Checker], ...] = tuple(fields)
        self.names = [name for name, _ in self.fields]

    def __call__(self, records: Any, max_records: int | None = None) -> None:
        """Check ``records`` (a list of objects).

        Raises:
            InvalidInput: not a list, an empty list, a record that is not an object, a
                missing field or a value of the wrong type (one error per field, capped).
            PayloadTooLarge: more than ``max_records`` records.
        """
        if type(records) is not list:
            if not isinstance(records, list):
                raise InvalidInput(
                    f"'records' must be a list of objects, got {type(records).__name__}",
                    errors=[{"loc": ["body", "records"], "msg": "expected a list of records"}],
                )
        if not records:
            raise InvalidInput(
                "'records' is empty: send at least one record",
                errors=[{"loc": ["body", "records"], "msg": "at least one record is required"}],
            )
        if max_records is not None and len(records) > max_records:
            raise PayloadTooLarge(
                f"{len(records)} records in one request; the limit is {max_records} "
                "(setting SHOPFLOOR_MAX_RECORDS_PER_REQUEST): split the request",
                errors=[{"loc": ["body", "records"], "msg": f"at most {max_records} records per request"}],
                limit=max_records,
            )
        fields = self.fields
        missing = _MISSING
        for record in records:
            if type(record) is not dict:
                break
            for name, check in fields:
                value = record.get(name, missing)
                if value is missing or check(value) is not None:
                    break
            else:
                continue
            break
        else:
            return  # the common case: every record valid, no error list built
        self._raise(records)

    def _raise(self, records: list[Any]) -> None:
        errors: list[dict[str, Any]] = []
        total = 0
        bad_records = 0
        for i, record in enumerate(records):
            found = self._record_errors(i, record)
            if found:
                bad_records += 1
                total += len(found)
                errors.extend(found[: max(0, MAX_REPORTED - len(errors))])
        if not errors:  # the fast path stopped on a dict subclass that turned out valid
            return
        first = errors[0]
        detail = (
            f"{bad_records} of {len(records)} record(s) are invalid; first: "
            f"records[{first['loc'][2]}]"
            + (f".{first['loc'][3]}" if len(first["loc"]) > 3 else "")
            + f": {first['msg']}"
        )
        if total > len(errors):
            detail += (
                f" ({total} errors in all; the first {len(errors)} are listed, {total - len(errors)} more)"
            )
        raise InvalidInput(detail, errors=errors, total_errors=total)

    def _record_errors(self, i: int, record: Any) -> list[dict[str, Any]]:
        if not isinstance(record, dict):
            return [{"loc": ["body", "records", i], "msg": f"expected an object, got {_show(record)}"}]
        errors = []
        for name, check in self.fields:
            value = record.get(name, _MISSING)
            if value is _MISSING:
                errors.append({"loc": ["body", "records", i, name], "msg": "field required"})
                continue
            message = check(value)
            if message is not None:
                errors.append({"loc": ["body", "records", i, name], "msg": message})
        return errors


def compile_schema(schema: list[dict[str, Any]]) -> Validator:
    """Build the :class:`Validator` for a model's input schema.

    ``schema`` is ``[{"name", "type", "categories"?}]`` with type one of numeric,
    categorical, boolean, datetime, text, image. Categories do not restrict values (the
    model handles unseen ones) except that a boolean column's labels (e.g.
    ``["no", "yes"]``) are accepted as values. An unknown type accepts anything.
    """
    fields: list[tuple[str, Checker]] = []
    for entry in schema:
        name, kind = str(entry["name"]), entry.get("type")
        checker = _CHECKERS.get(str(kind))
        if checker is None:
            logger.warning("input %r has unknown type %r; any value is accepted", name, kind)
            checker = _check_any
        elif kind == "boolean":
            labels = frozenset(c for c in entry.get("categories") or () if isinstance(c, str))
            if labels:
                checker = _boolean_with(labels)
        fields.append((name, checker))
    return Validator(fields)


def validate_records(records: list[Any], schema: list[dict[str, Any]], max_records: int) -> None:
    """Check predict ``records`` against ``schema``; see :meth:`Validator.__call__` for the errors.

    Compiles the schema on every call (a few microseconds); a serving path that keeps
    the model loaded should keep ``compile_schema(schema)`` beside it instead.
    """
    compile_schema(schema)(records, max_records)

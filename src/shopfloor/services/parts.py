"""Predict and explain requests sent as files (multipart): the records they hold, by the model's inputs.

A model whose declared inputs are recordings (``inputs == "signals"``) takes one part named
``recording`` per file, any format an upload of recordings takes, read with the same reader and
checks (:mod:`shopfloor.data.recording_parts`); the form fields ``sampling_rate``, ``channels``
and ``rpm`` apply to every file, as they do at upload. Its answers come in part order, each with
its file name. Other models take one record ``{field: file bytes}`` per part (an image model's
``image``) and refuse recording parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from shopfloor.context import Platform
from shopfloor.data.waveforms import SignalOptions
from shopfloor.errors import InvalidDataset, InvalidInput, PayloadTooLarge
from shopfloor.tasks import catalog

#: The part name of one recording file, and the form fields that apply to all of a request's files.
RECORDING = "recording"
RECORDING_FIELDS = ("sampling_rate", "channels", "rpm")
MAX_REPORTED = 50


@dataclass(frozen=True)
class FilePart:
    """One file of a multipart request: its form field, its file name and its bytes."""

    field: str
    filename: str
    data: bytes


def part_records(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    parts: list[FilePart],
    fields: dict[str, str],
) -> tuple[list[Any], list[str] | None]:
    """The records of a multipart predict or explain request for model ``name``, and the file each
    came from (None where the model's answers do not name files).

    Raises:
        InvalidInput: recording parts or fields for a model that does not read recordings; other
            parts for one that does; a bad ``sampling_rate``, ``rpm`` or ``channels``; a file that
            cannot be read as a recording (all such files listed, each by its name).
        PayloadTooLarge: more files than ``SHOPFLOOR_MAX_RECORDS_PER_REQUEST``, before any is read.
    """
    mv = platform.models.resolve(tenant, name, version)
    inputs = catalog.capabilities(mv.task).inputs
    if inputs != "signals":
        _refuse_recordings(parts, fields, name, inputs)
        return [{part.field: part.data} for part in parts], None
    most = platform.settings.max_records_per_request
    if len(parts) > most:
        raise PayloadTooLarge(
            f"{len(parts)} recordings in one request; the limit is {most} "
            "(setting SHOPFLOOR_MAX_RECORDS_PER_REQUEST): split the request",
            errors=[{"loc": ["body", RECORDING], "msg": f"at most {most} recordings per request"}],
            limit=most,
        )
    other = next((part for part in parts if part.field != RECORDING), None)
    if other is not None:
        raise InvalidInput(
            f"model {name!r} reads recordings: send each file as a part named {RECORDING} "
            f"(-F {RECORDING}=@pump.wav), not {other.field!r}",
            errors=[{"loc": ["body", other.field], "msg": f"expected parts named {RECORDING}"}],
        )
    channels = [str(c["name"]) for c in mv.input_schema if c.get("type") == "waveform"]
    return _read_all(parts, _options(fields), channels), [part.filename for part in parts]


def _read_all(parts: list[FilePart], options: SignalOptions, channels: list[str]) -> list[Any]:
    from shopfloor.data.recording_parts import part_record

    records, errors = [], []
    for i, part in enumerate(parts):
        try:
            records.append(part_record(part.data, part.filename, options, channels))
        except InvalidDataset as exc:
            msg = exc.errors[0]["msg"] if exc.errors else exc.detail
            errors.append({"loc": ["body", RECORDING, i], "msg": msg, "file": part.filename})
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"{len(errors)} of {len(parts)} recording(s) cannot be read; "
            f"first: {first['file']}: {first['msg']}",
            errors=errors[:MAX_REPORTED],
        )
    return records


def _options(fields: dict[str, str]) -> SignalOptions:
    """The request's ``sampling_rate``, ``channels`` and ``rpm``, checked as an upload's are."""
    numbers: dict[str, float | None] = {}
    for field in ("sampling_rate", "rpm"):
        raw = (fields.get(field) or "").strip()
        try:
            value = float(raw) if raw else None
        except ValueError:
            value = math.nan
        if value is not None and not (math.isfinite(value) and value > 0):
            raise _field(field, f"{field} must be a positive number, got {raw!r}")
        numbers[field] = value
    raw_channels = (fields.get("channels") or "").strip()
    chosen = tuple(c.strip() for c in raw_channels.split(",")) if raw_channels else None
    if chosen is not None and (not all(chosen) or len(set(chosen)) != len(chosen)):
        raise _field("channels", "channels has a blank or repeated name")
    return SignalOptions(sampling_rate=numbers["sampling_rate"], channels=chosen, rpm=numbers["rpm"])


def _refuse_recordings(parts: list[FilePart], fields: dict[str, str], name: str, inputs: str) -> None:
    given = [f for f in RECORDING_FIELDS if f in fields] + [p.field for p in parts if p.field == RECORDING]
    if given:
        raise InvalidInput(
            f"model {name!r} reads {inputs}, not recordings: {given[0]} is for models trained on recordings",
            errors=[{"loc": ["body", given[0]], "msg": f"model {name!r} reads {inputs}"}],
        )


def _field(field: str, detail: str) -> InvalidInput:
    return InvalidInput(detail, errors=[{"loc": ["body", field], "msg": detail}])


def with_files(results: list[dict[str, Any]], files: list[str] | None) -> list[dict[str, Any]]:
    """Each answer with the file its record came from first (``file``), when it came from one."""
    if files is None:
        return results
    return [{"file": file, **result} for file, result in zip(files, results, strict=True)]


def warnings_of(results: list[dict[str, Any]], files: list[str] | None = None) -> list[str]:
    """The answers' warnings, each prefixed by its record (or file)."""
    out: list[str] = []
    for i, r in enumerate(results):
        where = f"record {i}" if files is None else files[i]
        out.extend(f"{where}: {w}" for w in r.get("warnings") or ())
    return out


@contextmanager
def naming_files(files: list[str] | None) -> Iterator[None]:
    """Re-raise an error about ``records[i]`` as one about recording ``i``, naming its file."""
    try:
        yield
    except InvalidInput as exc:
        if files is None:
            raise
        errors = []
        for error in exc.errors:
            loc = list(error.get("loc") or ())
            index = loc[2] if loc[:2] == ["body", "records"] and len(loc) > 2 else None
            if isinstance(index, int) and 0 <= index < len(files):
                error = {**error, "loc": ["body", RECORDING, *loc[2:]], "file": files[index]}
            errors.append(error)
        named = next((e["file"] for e in errors if "file" in e), None)
        detail = exc.detail if named is None else f"{named}: {exc.detail}"
        raise type(exc)(detail, errors=errors, **exc.extra) from None

"""Tensors of the Open Inference Protocol (v2): datatypes, and their JSON and binary forms.

A request is a JSON header, optionally followed by the raw bytes of some of its inputs (the binary
tensor extension): the ``Inference-Header-Content-Length`` HTTP header gives the JSON's length, and
each binary input says how many bytes of the rest are its own (``parameters.binary_data_size``), in
the order of the inputs. Numbers are little-endian, row-major; a BYTES element is a 4-byte
little-endian length followed by that many bytes. Answers use the same framing for the outputs
asked in binary. Nothing here knows about models: see :mod:`shopfloor.services.oip`.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _escape
from typing import Any, NamedTuple

import numpy as np

from shopfloor.errors import InvalidInput, UnsupportedMediaType

#: The numeric datatypes and their little-endian numpy types.
NUMPY_TYPES: dict[str, str] = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
BYTES = "BYTES"
DATATYPES = (*NUMPY_TYPES, BYTES)
INTEGERS = frozenset(t for t in NUMPY_TYPES if "INT" in t)
FLOATS = frozenset(("FP16", "FP32", "FP64"))
_LENGTH = struct.Struct("<I")


class Tensor(NamedTuple):
    """One input of a request: its name, datatype, shape and elements, flat in row-major order
    (Python values: bool, int, float, str for JSON BYTES, bytes for binary BYTES)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    values: list[Any]


@dataclass(frozen=True)
class InferRequest:
    """A parsed infer request: ``id`` (echoed), the inputs, the outputs asked for (None: all) with
    whether each is wanted in binary, and whether unnamed outputs are (``binary_data_output``)."""

    id: str | None
    inputs: list[Tensor]
    outputs: dict[str, bool] | None
    binary_output: bool


def bad(detail: str, *where: str | int) -> InvalidInput:
    """A 422 about the request's tensors; ``where`` is its place in the JSON header."""
    return InvalidInput(detail, errors=[{"loc": ["body", *where], "msg": detail}])


def parse_request(body: bytes, header_length: str | None, encoding: str | None = None) -> InferRequest:
    """The infer request in ``body``; ``header_length`` is the ``Inference-Header-Content-Length``
    header (None: the whole body is JSON), ``encoding`` its ``Content-Encoding``. Raises
    :class:`InvalidInput` naming what is wrong, :class:`UnsupportedMediaType` for a compressed body."""
    header, split = read_header(body, header_length, encoding)
    return request_of(header, memoryview(body)[split:])


def read_header(body: bytes, header_length: str | None, encoding: str | None) -> tuple[dict[str, Any], int]:
    """The JSON header of the infer request in ``body`` and where its binary part starts (the
    body's length when there is none); see :func:`parse_request` for the arguments and errors."""
    if encoding not in (None, "identity"):
        raise UnsupportedMediaType(
            f"compressed requests (Content-Encoding: {encoding}) are not accepted: send the request "
            "uncompressed (tritonclient: leave request_compression_algorithm unset)"
        )
    if header_length is None:
        split = len(body)
    else:
        try:
            split = int(header_length)
        except ValueError:
            split = -1
        if not 0 <= split <= len(body):
            raise bad(
                f"Inference-Header-Content-Length is {header_length!r}: it must be the length of the "
                f"JSON header, at most the body's {len(body)} bytes"
            )
    raw = body if split == len(body) else body[:split]
    try:
        # an object's "{" then no NUL byte: UTF-8 as json.loads would detect it, without detecting
        utf8 = raw[:1] == b"{" and raw[1:2] != b"\0"
        header = _decode(raw.decode("utf-8", "surrogatepass")) if utf8 else json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise bad(f"the request's JSON header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise bad("the request must be a JSON object with 'inputs'")
    return header, split


def request_of(header: dict[str, Any], binary: memoryview) -> InferRequest:
    """The infer request of the JSON ``header`` (from :func:`read_header`) and the ``binary`` part
    of the body after it; raises :class:`InvalidInput` naming what is wrong."""
    raw_inputs = header.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise bad("the request needs 'inputs': a list of tensors", "inputs")
    inputs, used = [], 0
    for i, raw in enumerate(raw_inputs):
        tensor, used = _input(raw, i, binary, used)
        inputs.append(tensor)
    if used != len(binary):
        raise bad(
            f"the body holds {len(binary)} bytes after the JSON header, but the inputs' binary_data_size "
            f"add up to {used}"
        )
    if len({t.name for t in inputs}) != len(inputs):
        raise bad("an input name is given twice", "inputs")
    return InferRequest(request_id(header), inputs, *requested_outputs(header))


def plain_columns(
    header: dict[str, Any], accepted: Mapping[str, frozenset[str]]
) -> dict[str, list[Any]] | None:
    """The elements of each input of ``header`` by name, when every input is the common plain case:
    the names of ``accepted`` each given once, with one of its datatypes, shape ``[n]`` or ``[n, 1]``
    (one n for all) and its n elements as a flat JSON ``data`` list of that datatype's JSON type;
    no parameters. None for anything else: :func:`request_of` then reads the request in full and
    says what is wrong, so this never raises and never accepts what that refuses."""
    # on every request: subscripts, type() tests and set operations in C, no generators
    raw_inputs = header.get("inputs")
    if type(raw_inputs) is not list or len(raw_inputs) != len(accepted):
        return None
    columns: dict[str, list[Any]] = {}
    rows = -1
    for raw in raw_inputs:
        if type(raw) is not dict or len(raw) != 4:  # name, datatype, shape, data: nothing else
            return None
        try:
            name, datatype, shape, data = raw["name"], raw["datatype"], raw["shape"], raw["data"]
        except KeyError:
            return None
        if type(name) is not str or type(datatype) is not str or type(shape) is not list or name in columns:
            return None
        if datatype not in accepted.get(name, ()) or type(data) is not list:
            return None
        n = shape[0] if shape else None  # whole numbers only: True == 1 and 1.0 == 1 in Python
        if type(n) is not int or n != len(data) or (n != rows and rows >= 0):
            return None
        if len(shape) != 1 and (len(shape) != 2 or type(shape[1]) is not int or shape[1] != 1):
            return None
        if not _PLAIN_TYPES[datatype].issuperset(map(type, data)):
            return None
        columns[name] = data
        rows = n
    return columns


def request_id(header: dict[str, Any]) -> str | None:
    """The request's ``id`` (echoed in the answer), None when it has none."""
    found = header.get("id")
    if found is None or isinstance(found, str) and len(found) <= 256:
        return found
    raise bad("'id' must be a string of at most 256 characters", "id")


def _parameters(raw: dict[str, Any], *where: str | int) -> dict[str, Any]:
    found = raw.get("parameters") or {}
    if not isinstance(found, dict):
        raise bad("'parameters' must be an object", *where, "parameters")
    return found


def requested_outputs(header: dict[str, Any]) -> tuple[dict[str, bool] | None, bool]:
    """The outputs asked for, each with whether in binary (None: all), and ``binary_data_output``."""
    binary_all = _parameters(header).get("binary_data_output") is True
    raw = header.get("outputs")
    if raw is None:
        return None, binary_all
    if not isinstance(raw, list):
        raise bad("'outputs' must be a list of {name, parameters}", "outputs")
    wanted: dict[str, bool] = {}
    for i, out in enumerate(raw):
        if not isinstance(out, dict) or not isinstance(out.get("name"), str):
            raise bad("each output asked for must be an object with a 'name'", "outputs", i)
        params = _parameters(out, "outputs", i)
        refused = next((p for p in params if p.startswith("shared_memory") or p == "classification"), None)
        if refused is not None:
            what = "shared memory" if refused.startswith("shared") else "the classification extension"
            raise bad(
                f"output {out['name']!r}: {what} is not supported here ({refused}); ask for the output "
                "itself, in JSON or with binary_data",
                "outputs", i, "parameters", refused,
            )
        wanted[out["name"]] = bool(params.get("binary_data", binary_all))
    return wanted, binary_all


def _input(raw: Any, i: int, binary: memoryview, used: int) -> tuple[Tensor, int]:
    # on every request: plain loops and type() tests, no generators
    name = raw.get("name") if type(raw) is dict else None
    if type(name) is not str:
        raise bad("each input must be an object with a 'name', a 'datatype' and a 'shape'", "inputs", i)
    datatype, shape = raw.get("datatype"), raw.get("shape")
    if datatype not in _KNOWN:
        known = ", ".join(DATATYPES)
        raise bad(f"input {name!r}: unknown datatype {datatype!r}; one of {known}", "inputs", i)
    count = 1
    for d in shape if type(shape) is list else (-1,):
        if type(d) is not int or d < 0:
            raise bad(f"input {name!r}: 'shape' must be a list of whole numbers >= 0", "inputs", i, "shape")
        count *= d
    params = raw.get("parameters")
    size = _parameters(raw, "inputs", i).get("binary_data_size") if params is not None else None
    if size is not None:
        if type(size) is not int or size < 0 or used + size > len(binary):
            raise bad(
                f"input {name!r}: binary_data_size {size!r} is not within the {len(binary) - used} bytes "
                "left after the JSON header",
                "inputs", i, "parameters", "binary_data_size",
            )
        values = _from_binary(name, datatype, count, binary[used : used + size])
        return Tensor(name, datatype, tuple(shape), values), used + size
    if "data" not in raw:
        raise bad(f"input {name!r} has neither 'data' nor parameters.binary_data_size", "inputs", i)
    values = _from_json(name, datatype, raw["data"])
    if len(values) != count:
        detail = f"input {name!r}: shape {shape} holds {count} elements, 'data' has {len(values)}"
        raise bad(detail, "inputs", i)
    return Tensor(name, datatype, tuple(shape), values), used


def _from_binary(name: str, datatype: str, count: int, raw: memoryview) -> list[Any]:
    if datatype == BYTES:
        values: list[Any] = []
        at = 0
        while at < len(raw):
            if at + 4 > len(raw):
                raise bad(f"input {name!r}: its binary BYTES data ends inside an element's length")
            (length,) = _LENGTH.unpack_from(raw, at)
            if at + 4 + length > len(raw):
                raise bad(f"input {name!r}: BYTES element {len(values)} says {length} bytes, fewer are left")
            values.append(bytes(raw[at + 4 : at + 4 + length]))
            at += 4 + length
    else:
        dtype = np.dtype(NUMPY_TYPES[datatype])
        if len(raw) != count * dtype.itemsize:
            raise bad(
                f"input {name!r}: {count} {datatype} elements take {count * dtype.itemsize} bytes, "
                f"binary_data_size gives {len(raw)}"
            )
        values = np.frombuffer(raw, dtype).tolist()
    if len(values) != count:
        raise bad(f"input {name!r}: its shape holds {count} elements, its binary data {len(values)}")
    return values


def _flat(data: Any) -> list[Any]:
    """Nested lists flattened row-major; an element left a list (ragged nesting) then fails its type check."""
    if type(data) is not list:
        return [data]
    if not data or type(data[0]) is not list:
        return data
    out: list[Any] = []
    for v in data:
        out.extend(_flat(v))
    return out


_NUMBER_TYPES = frozenset((int, float))
#: The Python types of each datatype's JSON elements, and how the error says them.
_JSON_TYPES: dict[str, tuple[frozenset[type], str]] = {
    BYTES: (frozenset((str,)), "strings"),
    "BOOL": (frozenset((bool,)), "true or false"),
    **dict.fromkeys(INTEGERS, (frozenset((int,)), "whole numbers")),
    **dict.fromkeys(FLOATS, (_NUMBER_TYPES, "numbers")),
}
_KNOWN = frozenset(DATATYPES)
#: The JSON element types of each datatype, for :func:`plain_columns`.
_PLAIN_TYPES: dict[str, frozenset[type]] = {datatype: types for datatype, (types, _) in _JSON_TYPES.items()}
_decode = json.JSONDecoder().decode
#: One encoder for every answer (``json.dumps`` with options builds a new one per call).
_to_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _from_json(name: str, datatype: str, data: Any) -> list[Any]:
    values = _flat(data)
    allowed, expected = _JSON_TYPES[datatype]
    for at, v in enumerate(values):
        if type(v) not in allowed:
            raise bad(f"input {name!r}: {datatype} data must be {expected}; element {at} is {v!r}")
    return values


def output(
    name: str, datatype: str, shape: list[int], values: list[Any], binary: bool
) -> tuple[dict[str, Any], bytes]:
    """One output tensor: its JSON entry and (in binary) its bytes, else ``b""`` with ``data`` inline."""
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
    if not binary:
        entry["data"] = values
        return entry, b""
    if datatype == BYTES:
        parts = [v.encode() if isinstance(v, str) else bytes(v) for v in values]
        raw = b"".join(_LENGTH.pack(len(p)) + p for p in parts)
    else:
        missing = math.nan if datatype in FLOATS else 0  # JSON says null; binary has no such value
        raw = np.asarray([missing if v is None else v for v in values], NUMPY_TYPES[datatype]).tobytes()
    entry["parameters"] = {"binary_data_size": len(raw)}
    return entry, raw


def json_response(
    fields: dict[str, str],
    outputs: list[tuple[str, str, list[int], list[Any]]],
    parameters: dict[str, Any] | None,
) -> bytes:
    """The body of an answer whose outputs are all in JSON, written directly: the same JSON as
    :func:`response` writes for the header ``{**fields, "outputs": [entries], "parameters": ...}``
    (``parameters`` left out when None), each entry from ``(name, datatype, shape, elements)``;
    elements as :func:`output` takes them, except that a float that is not finite is written as
    ``null`` (JSON has no NaN). The answer's hot path: no encoder built per call, no dicts."""
    parts = ["{"]
    for key, value in fields.items():
        parts += (_escape(key), ":", _escape(value), ",")
    parts.append('"outputs":[')
    for i, (name, datatype, shape, values) in enumerate(outputs):
        parts += ("," if i else "", '{"name":', _escape(name), ',"datatype":', _escape(datatype))
        parts += (',"shape":[', ",".join(map(str, shape)), '],"data":', _json_data(datatype, values), "}")
    parts.append("]")
    if parameters is not None:
        parts += (',"parameters":', _to_json(parameters))
    parts.append("}")
    return "".join(parts).encode()


def _json_data(datatype: str, values: list[Any]) -> str:
    if not _WRITTEN[datatype].issuperset(map(type, values)):  # not as output() takes them
        return _to_json(values)
    if datatype == BYTES:
        items = ["null" if v is None else _escape(v) for v in values]
    elif datatype == "BOOL":
        items = ["true" if v else "false" for v in values]
    elif datatype in FLOATS:
        items = ["null" if v is None or not _finite(v) else repr(v) for v in values]
    else:
        items = list(map(str, values))
    return "[" + ",".join(items) + "]"


#: The element types :func:`json_response` writes itself per datatype (the rest go to the encoder).
_WRITTEN: dict[str, frozenset[type]] = {
    BYTES: frozenset((str, type(None))),
    "BOOL": frozenset((bool,)),
    **dict.fromkeys(INTEGERS, frozenset((int,))),
    **dict.fromkeys(FLOATS, frozenset((float, int, type(None)))),
}
_finite = math.isfinite


def response(header: dict[str, Any], blobs: list[bytes]) -> tuple[bytes, int | None]:
    """The answer's body and, when outputs follow in binary, the length of its JSON header."""
    text = _to_json(header).encode()
    if not any(blobs):
        return text, None
    return b"".join((text, *blobs)), len(text)

"""Open Inference Protocol tensors: the JSON and binary forms of requests and answers."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from tritonclient.http import InferInput, InferRequestedOutput, InferResult
from tritonclient.http._utils import _get_inference_request

from shopfloor.errors import InvalidInput, UnsupportedMediaType
from shopfloor.serving.tensors import json_response, output, parse_request, plain_columns, response


def _client_request(
    inputs: list[InferInput], outputs: list[InferRequestedOutput] | None = None
) -> tuple[bytes, str | None]:
    """A request body and header length exactly as tritonclient builds them."""
    body, length = _get_inference_request(inputs, "r9", outputs, 0, False, False, 0, None, None)
    return body, None if length is None else str(length)


def test_binary_and_json_inputs_as_tritonclient_sends_them() -> None:
    numbers = InferInput("x", [2, 3], "FP32")
    numbers.set_data_from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3), binary_data=True)
    words = InferInput("w", [2], "BYTES")
    words.set_data_from_numpy(np.array([b"\x89PNG", "é".encode()], dtype=object), binary_data=True)
    flags = InferInput("f", [2], "BOOL")
    flags.set_data_from_numpy(np.array([True, False]), binary_data=False)
    wanted = [InferRequestedOutput("label", binary_data=True), InferRequestedOutput("p", binary_data=False)]
    request = parse_request(*_client_request([numbers, words, flags], wanted))
    assert request.id == "r9" and request.outputs == {"label": True, "p": False}
    x, w, f = request.inputs
    assert (x.datatype, x.shape, x.values) == ("FP32", (2, 3), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    assert w.values == [b"\x89PNG", "é".encode()] and f.values == [True, False]
    assert parse_request(*_client_request([flags])).binary_output  # no outputs named: all in binary


def test_nested_json_data_is_read_row_major() -> None:
    body = {"inputs": [{"name": "t", "datatype": "INT64", "shape": [2, 2], "data": [[1, 2], [3, 4]]}]}
    (tensor,) = parse_request(json.dumps(body).encode(), None).inputs
    assert tensor.values == [1, 2, 3, 4]


def _sized(size: int) -> dict[str, dict[str, int]]:
    return {"parameters": {"binary_data_size": size}}


@pytest.mark.parametrize(
    ("tensor", "binary", "length", "words"),
    [
        ({"datatype": "FP64", "shape": [2], **_sized(8)}, b"\0" * 8, None, "16 bytes"),
        ({"datatype": "FP64", "shape": [1], **_sized(16)}, b"\0" * 8, None, "not within"),
        ({"datatype": "BYTES", "shape": [1], **_sized(6)}, struct.pack("<I", 9) + b"ab", None, "says 9"),
        ({"datatype": "INT32", "shape": [2], "data": [1, 2.5]}, b"", None, "element 1 is 2.5"),
        ({"datatype": "BOOL", "shape": [1], "data": [1]}, b"", None, "true or false"),
        ({"datatype": "FP64", "shape": [1], "data": [1.0]}, b"", "x", "Inference-Header-Content-Length"),
        ({"datatype": "FP64", "shape": [-1], "data": [1.0]}, b"", None, "'shape'"),
        ({"datatype": "FP64", "shape": [1]}, b"", None, "neither 'data'"),
    ],
)
def test_bad_tensors_say_what_is_wrong(tensor: dict, binary: bytes, length: str | None, words: str) -> None:
    header = json.dumps({"inputs": [{"name": "t", **tensor}]}).encode()
    given = length or (str(len(header)) if binary else None)
    with pytest.raises(InvalidInput) as caught:
        parse_request(header + binary, given)
    assert words in caught.value.detail


def test_bytes_left_over_and_compression_are_refused() -> None:
    header = json.dumps({"inputs": [{"name": "t", "datatype": "FP64", "shape": [1], "data": [1.0]}]}).encode()
    with pytest.raises(InvalidInput, match="4 bytes after the JSON header"):
        parse_request(header + b"abcd", str(len(header)))
    with pytest.raises(UnsupportedMediaType, match="gzip"):
        parse_request(header, None, "gzip")


def test_answers_in_json_and_binary_read_back_by_tritonclient() -> None:
    entries, blobs = [], []
    for name, datatype, shape, values, binary in [
        ("label", "BYTES", [2], ["ok", "scrap"], True),
        ("p", "FP64", [2, 2], [0.25, 0.75, None, 1.0], True),
        ("flag", "BOOL", [2], [True, False], False),
    ]:
        entry, blob = output(name, datatype, shape, values, binary)
        entries.append(entry)
        blobs.append(blob)
    body, length = response({"model_name": "m", "outputs": entries}, blobs)
    assert length is not None
    result = InferResult.from_response_body(body, header_length=length)
    assert result.as_numpy("label").tolist() == [b"ok", b"scrap"]
    p = result.as_numpy("p")
    assert p.shape == (2, 2) and p[0].tolist() == [0.25, 0.75] and np.isnan(p[1, 0])
    assert result.as_numpy("flag").tolist() == [True, False]
    only_json, none = response({"outputs": [output("flag", "BOOL", [1], [True], False)[0]]}, [b""])
    assert none is None and json.loads(only_json)["outputs"][0]["data"] == [True]


_ACCEPTED = {"speed": frozenset({"FP64", "FP32", "INT64"}), "Type": frozenset({"BYTES", "INT64"})}


def _plain(**changed: Any) -> dict[str, Any]:
    speed = {"name": "speed", "datatype": "FP64", "shape": [2], "data": [1.5, 2]}
    kind = {"name": "Type", "datatype": "BYTES", "shape": [2, 1], "data": ["L", "M"]}
    return {"inputs": [{**speed, **changed}, kind]}


def test_plain_inputs_are_read_in_one_pass_as_the_full_parse_reads_them() -> None:
    header = _plain()
    assert plain_columns(header, _ACCEPTED) == {"speed": [1.5, 2], "Type": ["L", "M"]}
    full = parse_request(json.dumps(header).encode(), None)
    assert {t.name: t.values for t in full.inputs} == plain_columns(header, _ACCEPTED)


@pytest.mark.parametrize(
    "changed",
    [
        {"shape": [True]},  # True == 1 in Python; not a whole number here
        {"shape": [2.0]},
        {"shape": [2, True]},
        {"shape": [1, 2], "data": [1.0, 2.0]},
        {"shape": [3]},  # not the length of data
        {"shape": [1], "data": [1.0]},  # another number of records than Type's
        {"data": [[1.5], [2.0]]},  # nested
        {"data": [1.5, True]},  # a bool is no FP64 element
        {"data": [1.5, "2"]},
        {"datatype": "BOOL"},  # not accepted for the column
        {"datatype": ["FP64"]},
        {"name": "Type", "datatype": "INT64", "data": [1, 2]},  # given twice
        {"name": "other"},
        {"name": 7},
        {"parameters": {}},  # anything beyond name, datatype, shape and data
    ],
)
def test_anything_else_is_left_to_the_full_parse(changed: dict[str, Any]) -> None:
    assert plain_columns(_plain(**changed), _ACCEPTED) is None


def test_not_every_column_or_no_list_is_left_to_the_full_parse() -> None:
    assert plain_columns({"inputs": _plain()["inputs"][:1]}, _ACCEPTED) is None
    assert plain_columns({"inputs": {"speed": [1.0]}}, _ACCEPTED) is None
    assert plain_columns({"inputs": [1, 2]}, _ACCEPTED) is None


def test_json_answers_are_written_as_the_encoder_writes_them() -> None:
    outputs = [
        ("label", "BYTES", [3], ["ok", None, 'é "q"']),
        ("p", "FP64", [3, 2], [0.25, None, 1e-300, 2, float("nan"), float("inf")]),
        ("flag", "BOOL", [2], [True, False]),
        ("count", "INT64", [2], [3, 0]),
        ("odd", "INT64", [1], [True]),  # not as output() takes it: the encoder writes it
    ]
    fields = {"model_name": 'm"', "model_version": "1", "id": "r\n1"}
    written = json_response(fields, outputs, {"warnings": ["w"]})
    finite = [[None if isinstance(v, float) and v - v != 0 else v for v in vs] for _, _, _, vs in outputs]
    entries = [output(n, d, s, vs, False)[0] for (n, d, s, _), vs in zip(outputs, finite, strict=True)]
    expected, length = response({**fields, "outputs": entries, "parameters": {"warnings": ["w"]}}, [b""])
    assert written == expected and length is None
    assert json_response({}, [], None) == response({"outputs": []}, [])[0]

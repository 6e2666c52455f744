"""Open Inference Protocol tensors: the JSON and binary forms of requests and answers."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from tritonclient.http import InferInput, InferRequestedOutput, InferResult
from tritonclient.http._utils import _get_inference_request

from shopfloor.errors import InvalidInput, UnsupportedMediaType
from shopfloor.serving.tensors import output, parse_request, response


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

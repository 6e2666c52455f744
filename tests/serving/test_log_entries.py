"""Sealed batches of logged predictions: written as MessagePack, batches stored as JSON (before it,
or entries MessagePack cannot hold) still read, the size limit per entry, tampering refused."""

from __future__ import annotations

import json
import math
import zlib

import numpy as np
import pytest

from shopfloor.errors import ArtifactCorrupted
from shopfloor.security import crypto
from shopfloor.serving.log_entries import bounded, encode_entries, open_blob, seal

KEY = bytes(range(32))
PATH = "default/prediction-log/m/1/abc"
ENTRIES = [
    {"inputs": {"speed": 1.5, "note": "ok", "count": 3},
     "answer": {"label": "a", "probabilities": {"a": 0.9}}, "latency_ms": 1.25},
    {"inputs": [{"speed": None}], "answer": None, "latency_ms": 2.0, "error": {"status": 500, "code": "x"}},
]


def test_a_batch_opens_as_it_was_written() -> None:
    blob = seal(KEY, PATH, encode_entries(ENTRIES))
    assert open_blob(KEY, PATH, blob) == ENTRIES


def test_values_read_from_tables_are_written_as_plain_values() -> None:
    entry = {"inputs": {"n": np.int64(4), "x": np.float64(0.5), "flag": np.bool_(True), "pair": (1, 2)},
             "answer": {"value": math.nan}, "latency_ms": 0.5}
    (found,) = open_blob(KEY, PATH, seal(KEY, PATH, encode_entries([entry])))
    assert found["inputs"] == {"n": 4, "x": 0.5, "flag": True, "pair": [1, 2]}
    assert math.isnan(found["answer"]["value"])


def test_batches_stored_as_json_are_still_read() -> None:
    stored = crypto.encrypt(KEY, PATH, zlib.compress(json.dumps(ENTRIES).encode(), 1))
    assert open_blob(KEY, PATH, stored) == ENTRIES


def test_entries_messagepack_cannot_hold_are_written_as_json() -> None:
    entry = {"inputs": {"serial": 2**70}, "answer": {"value": 1}, "latency_ms": 1.0}
    document = encode_entries([entry])
    assert document.startswith(b"[")
    assert open_blob(KEY, PATH, seal(KEY, PATH, document)) == [entry]


def test_inputs_over_the_limit_are_replaced_by_their_digest() -> None:
    entry = {"inputs": {"note": "x" * 500}, "answer": {"value": 1}, "latency_ms": 1.0}
    assert bounded(entry, 10_000) is entry
    smaller = bounded(entry, 100)
    assert smaller["inputs"]["omitted"]
    assert smaller["inputs"]["bytes"] == len(json.dumps(entry["inputs"], separators=(",", ":")))
    assert smaller["answer"] == {"value": 1}


@pytest.mark.parametrize("path", [PATH, "default/prediction-log/m/1/other"])
def test_a_changed_or_moved_batch_does_not_open(path: str) -> None:
    blob = bytearray(seal(KEY, PATH, encode_entries(ENTRIES)))
    if path == PATH:
        blob[-1] ^= 1
    with pytest.raises(ArtifactCorrupted):
        open_blob(KEY, path, bytes(blob))


def test_a_document_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(ArtifactCorrupted):
        open_blob(KEY, PATH, crypto.encrypt(KEY, PATH, zlib.compress(b"\x81\xa1a\x01", 1)))

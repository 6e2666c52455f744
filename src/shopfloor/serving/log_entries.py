"""What one logged prediction holds, and how a batch of them is sealed and opened again.

An entry is ``{"inputs", "answer", "latency_ms"}``: the record's inputs as the model declares them
(its input schema; fields it does not read are left out), with every text masked by the tenant's
policy and images or recordings replaced by their size and SHA-256 (the log lives in the registry
database: it keeps what the model saw, not the files); the answer as served; the latency of the
call. A model that answers per asset or per stream (not one answer per record) keeps the request's
records with each answer.

A batch of entries of one model version is one MessagePack array (batches written before it and
the rare batch MessagePack cannot hold: a JSON array), compressed and sealed with the
tenant's key (AES-256-GCM) and bound to its tenant, model, version and batch id: one encryption per
batch, and a blob moved to another row does not open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from shopfloor.errors import ArtifactCorrupted, Conflict
from shopfloor.privacy.masking import MaskingPolicy, mask_column
from shopfloor.privacy.policy import PolicyPlatform, policy
from shopfloor.security import crypto

log = logging.getLogger(__name__)

#: Input types kept as their digest (size and SHA-256), not their content.
DIGESTED = frozenset({"image", "waveform"})
#: Input types whose text is masked before it is logged.
MASKED = frozenset({"text", "categorical"})
#: What replaces text when the tenant's masking policy cannot be applied (it no longer passes its
#: checks): nothing unmasked is stored.
UNMASKABLE = "[NOT LOGGED: MASKING POLICY INVALID]"


def blob_path(tenant: str, model: str, version: int, blob_id: str) -> str:
    """What a batch's encryption is bound to (authenticated data)."""
    return f"{tenant}/prediction-log/{model}/{version}/{blob_id}"


def feedback_path(tenant: str, model: str, record: str) -> str:
    """What a fed-back outcome's encryption is bound to."""
    return f"{tenant}/prediction-feedback/{model}/{record}"


def digest(value: Any) -> dict[str, Any]:
    """Size and SHA-256 of an image or a recording, in place of its content."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, str):
        data = value.encode()
    elif hasattr(value, "tobytes"):
        data = value.tobytes()
    else:
        data = json.dumps(value, default=str).encode()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def plain(value: Any) -> Any:
    """JSON fallback for what records read from tables hold (numpy scalars, timestamps)."""
    if hasattr(value, "item") and hasattr(value, "dtype"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class Masker:
    """Masks the text inputs of entries under one tenant's policy, each distinct text once."""

    def __init__(self, policy: MaskingPolicy | None, key: bytes | None) -> None:
        self.policy = policy
        self.key = key
        self._done: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        found = self._done.get(text)
        if found is None:
            if self.policy is None:
                found = UNMASKABLE
            else:
                found = mask_column([text], self.policy, self.key).values[0] or ""
            self._done[text] = found
        return found


def masker(platform: PolicyPlatform, tenant: str) -> Masker:
    """The tenant's masker: its policy (built-in detectors when none is set) and, for reversible
    pseudonyms, its key. A policy that no longer passes its checks masks everything away."""
    try:
        found = policy(platform, tenant)
    except Conflict as exc:
        log.warning("tenant %s: text inputs are not logged: %s", tenant, exc.detail)
        return Masker(None, None)
    return Masker(found, platform.sealed.tenant_key(tenant) if found.reversible else None)


class Inputs:
    """What of a record is logged, by the model's input schema: the fields it reads, texts masked,
    images and recordings digested, non-finite numbers as null. Built once per schema and batch."""

    def __init__(self, schema: Sequence[Mapping[str, Any]], mask: Masker) -> None:
        self.plain = [f["name"] for f in schema if f.get("type") not in MASKED | DIGESTED]
        self.masked = [f["name"] for f in schema if f.get("type") in MASKED]
        self.digested = [f["name"] for f in schema if f.get("type") in DIGESTED]
        self.mask = mask
        self.chars = 0

    def __call__(self, record: Any) -> Any:
        """The logged inputs of ``record``; :attr:`chars` is then how much text it held (what could
        take its entry over the size limit)."""
        self.chars = 0
        if type(record) is not dict and not isinstance(record, Mapping):
            return None
        out = {}
        for name in self.plain:
            if name in record:
                value = record[name]
                out[name] = None if isinstance(value, float) and not math.isfinite(value) else value
        for name in self.masked:
            if name in record:
                value = record[name]
                if isinstance(value, str):
                    self.chars += len(value)
                    out[name] = self.mask(value)
                else:
                    out[name] = value
        for name in self.digested:
            if name in record:
                out[name] = digest(record[name]) if record[name] is not None else None
        return out


#: One encoder for every entry (building one per call costs more than encoding a small entry).
_ENCODER = json.JSONEncoder(default=plain, separators=(",", ":"))


def bounded(entry: Mapping[str, Any], max_bytes: int) -> Mapping[str, Any]:
    """``entry``, or when its JSON is larger than ``max_bytes`` the entry with its inputs replaced by
    their size and digest."""
    if len(_ENCODER.encode(entry).encode()) <= max_bytes:
        return entry
    inputs = _ENCODER.encode(entry.get("inputs")).encode()
    return {**entry, "inputs": {"omitted": "larger than the log's limit per record", **digest(inputs)}}


def encode_entries(entries: Sequence[Mapping[str, Any]]) -> bytes:
    """Entries as one MessagePack array (several times cheaper to write than JSON, the writer's
    largest cost per entry); entries MessagePack cannot hold (an integer over 64 bits) as a JSON
    array. :func:`open_blob` reads both: a JSON array starts with ``[``, which no MessagePack array
    does."""
    try:
        return msgpack.packb(entries, default=_packable, use_bin_type=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError):
        return _ENCODER.encode(entries).encode()


def _packable(value: Any) -> Any:
    if isinstance(value, int):  # over 64 bits: JSON keeps the number, :func:`plain` would make it text
        raise TypeError("integer too large for MessagePack")
    return plain(value)


def _decode(document: bytes) -> Any:
    if document[:1] == b"[":  # JSON: every batch written before MessagePack, and the fallback
        return json.loads(document)
    return msgpack.unpackb(document, raw=False, strict_map_key=False)


def seal(key: bytes, path: str, document: bytes) -> bytes:
    """An encoded array of entries (:func:`encode_entries`) as one sealed blob (compressed, then
    encrypted)."""
    return crypto.encrypt(key, path, zlib.compress(document, 1))


def open_blob(key: bytes, path: str, blob: bytes) -> list[dict[str, Any]]:
    """The entries of a sealed batch. Raises :class:`ArtifactCorrupted` if it does not authenticate
    (changed, or moved from another batch) or does not decode."""
    plain_bytes = crypto.decrypt(key, path, blob)
    try:
        found = _decode(zlib.decompress(plain_bytes))
    except (zlib.error, ValueError, msgpack.UnpackException) as exc:
        raise ArtifactCorrupted(f"logged predictions {path!r} cannot be read: {exc}") from None
    if not isinstance(found, list):
        raise ArtifactCorrupted(f"logged predictions {path!r} are not a list of entries")
    return found


def seal_outcome(key: bytes, path: str, outcome: Any) -> bytes:
    return crypto.encrypt(key, path, json.dumps(outcome).encode())


def open_outcome(key: bytes, path: str, blob: bytes) -> Any:
    return json.loads(crypto.decrypt(key, path, blob))

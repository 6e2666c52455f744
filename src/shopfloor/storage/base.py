"""The artifact store protocol and its factory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from shopfloor.errors import ArtifactCorrupted, InvalidInput


class ArtifactStore(Protocol):
    """Immutable blobs addressed by ``/``-separated keys (``tenant/models/name/3/model.lgb.txt``).

    Writes are atomic: a reader sees a whole file or none. Keys never contain ``..``.
    """

    def put_bytes(self, key: str, data: bytes) -> str: ...
    def put_file(self, key: str, source: Path) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def local_path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def list_prefix(self, prefix: str) -> Iterator[str]: ...


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verified(key: str, data: bytes, expected_sha256: str) -> bytes:
    """Return ``data`` if its sha256 is the one the registry recorded, else refuse it."""
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise ArtifactCorrupted(
            f"artifact {key!r} does not match its recorded sha256 (expected {expected_sha256[:12]}…, "
            f"found {actual[:12]}…); it was changed or damaged on disk and will not be loaded"
        )
    return data


def open_artifacts(url: str) -> ArtifactStore:
    """An artifact store for ``url`` (``file:///abs/path`` or a plain path)."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        from shopfloor.storage.local import LocalArtifactStore

        return LocalArtifactStore(Path(parsed.path if parsed.scheme else url))
    raise InvalidInput(f"unsupported artifact store URL scheme {parsed.scheme!r}; use file://")

"""The artifact store protocol and its factory."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlparse

from shopfloor.errors import ArtifactCorrupted, InvalidInput, StoreUnavailable
from shopfloor.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Longest pause between two tries of :func:`patiently`.
MAX_PAUSE_S = 30.0


class ArtifactStore(Protocol):
    """Immutable blobs addressed by ``/``-separated keys (``tenant/models/name/3/model.lgb.txt``).

    Writes are atomic: a reader sees a whole file or none. Keys never contain ``..``.
    ``get_bytes`` of a missing key raises :class:`~shopfloor.errors.NotFound`; a backend that cannot
    be reached raises :class:`~shopfloor.errors.StoreUnavailable` from any method (never hangs:
    its calls are bounded in time).
    """

    def put_bytes(self, key: str, data: bytes) -> str: ...
    def put_file(self, key: str, source: Path) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> None:
        """Remove ``prefix`` and everything below ``prefix/``."""
        ...

    def list_prefix(self, prefix: str) -> Iterator[str]: ...
    def probe(self) -> None:
        """A cheap check that the store serves this process; raises ``StoreUnavailable`` if not."""
        ...


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


def patiently(call: Callable[[], T], wait_s: float, what: str) -> T:
    """``call()``, tried again while it raises :class:`StoreUnavailable`, for up to ``wait_s`` seconds.

    For work that is already acknowledged (a job's result): a short outage of the store must not
    throw it away. Pauses double from 1 s up to :data:`MAX_PAUSE_S`; the last failure is raised.
    """
    deadline, pause = time.monotonic() + wait_s, 1.0
    while True:
        try:
            return call()
        except StoreUnavailable as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            log.warning("%s: %s; trying again in %.0f s", what, exc.detail, min(pause, left))
            time.sleep(min(pause, left))
            pause = min(pause * 2, MAX_PAUSE_S)


def is_remote(url: str) -> bool:
    """Whether ``url`` names a store reached over the network (each host then caches what it loads)."""
    return urlparse(url).scheme not in ("", "file")


def open_artifacts(url: str, settings: Settings | None = None) -> ArtifactStore:
    """An artifact store for ``url``: ``file:///abs/path`` or a plain path (the embedded default), or
    ``s3://bucket/prefix`` (an S3-compatible store, reached with ``settings``' endpoint, region,
    keys, timeouts and attempts)."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        from shopfloor.storage.local import LocalArtifactStore

        return LocalArtifactStore(Path(parsed.path if parsed.scheme else url))
    if parsed.scheme == "s3":
        from shopfloor.storage.s3 import S3ArtifactStore  # boto3 loads only for an s3:// store

        return S3ArtifactStore.from_settings(url, settings or Settings(artifacts_url=url))
    raise InvalidInput(
        f"unsupported artifact store URL scheme {parsed.scheme!r}; use file:///abs/path or s3://bucket/prefix"
    )

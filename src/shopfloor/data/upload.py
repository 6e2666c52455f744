"""Receive a dataset upload onto disk: streamed, size-limited, hashed on the way.

The file never sits whole in memory: each chunk is hashed, counted and written,
and an upload that passes the limit is cut off and its partial file removed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from shopfloor.errors import InvalidDataset, InvalidInput, PayloadTooLarge

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 1 << 20


class AsyncReadable(Protocol):
    """Anything with ``async read(n) -> bytes`` (``starlette.datastructures.UploadFile``)."""

    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class UploadInfo:
    """Where an accepted upload landed, how big it is, and its sha256 (hex)."""

    path: Path
    size: int
    sha256: str


def _too_large(limit_bytes: int) -> PayloadTooLarge:
    mb = limit_bytes / (1024 * 1024)
    return PayloadTooLarge(
        f"the file is larger than the upload limit of {mb:.4g} MB; "
        "raise the setting SHOPFLOOR_MAX_UPLOAD_MB to accept bigger files",
        errors=[{"loc": ["body", "file"], "msg": f"larger than {mb:.4g} MB"}],
        limit_bytes=limit_bytes,
    )


def _empty() -> InvalidDataset:
    return InvalidDataset("the file is empty", errors=[{"loc": ["body", "file"], "msg": "the file is empty"}])


class _Sink:
    """Writes chunks to ``dest`` while counting and hashing; removes the file on failure."""

    def __init__(self, dest: Path, limit_bytes: int) -> None:
        self.dest = dest
        self.limit = limit_bytes
        self.size = 0
        self.digest = hashlib.sha256()
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.handle: BinaryIO = dest.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise _too_large(self.limit)
        self.digest.update(chunk)
        self.handle.write(chunk)

    def finish(self) -> UploadInfo:
        self.handle.close()
        if self.size == 0:
            self._remove()
            raise _empty()
        info = UploadInfo(path=self.dest, size=self.size, sha256=self.digest.hexdigest())
        logger.info("received %s (%d bytes, sha256 %s)", self.dest.name, info.size, info.sha256[:12])
        return info

    def abort(self) -> None:
        self.handle.close()
        self._remove()

    def _remove(self) -> None:
        """Remove the partial file; a scratch memory file (no name to remove) is emptied instead."""
        try:
            self.dest.unlink(missing_ok=True)
        except PermissionError:
            self.dest.open("wb").close()


async def receive_upload(
    source: AsyncReadable, dest: Path, limit_bytes: int, chunk_size: int = DEFAULT_CHUNK
) -> UploadInfo:
    """Stream ``source`` into ``dest`` chunk by chunk, hashing and counting as it goes.

    Raises :class:`PayloadTooLarge` as soon as more than ``limit_bytes`` arrive (the
    partial file is deleted) and :class:`InvalidDataset` for an empty upload. Any
    other failure (client disconnect, cancellation) also removes the partial file.
    """
    dest = Path(dest)
    sink = _Sink(dest, limit_bytes)
    try:
        while chunk := await source.read(chunk_size):
            # Writes are small (one chunk) and go to the page cache; not worth a thread hop each.
            sink.write(chunk)
    except BaseException:
        sink.abort()
        raise
    return sink.finish()


def copy_file(src_path: Path, dest: Path, limit_bytes: int, chunk_size: int = DEFAULT_CHUNK) -> UploadInfo:
    """Synchronous twin of :func:`receive_upload` for a local file (CLI, local use)."""
    src_path = Path(src_path)
    try:
        source = src_path.open("rb")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {src_path}: {exc.strerror or exc}",
            errors=[{"loc": ["path"], "msg": exc.strerror or str(exc)}],
        ) from exc
    with source:
        sink = _Sink(Path(dest), limit_bytes)
        try:
            while chunk := source.read(chunk_size):
                sink.write(chunk)
        except BaseException:
            sink.abort()
            raise
    return sink.finish()

"""Each host's copy of the artifact files it loaded from a remote store, addressed by content digest.

With an ``s3://`` store, a model is fetched over the network once per host, not once per process
or restart. An entry is named by the sha256 of the plaintext that the registry recorded (and
signed) for the file, so it can never be stale: other content has another name. It holds the
plaintext sealed again with the tenant's key, bound to the entry's own name (see
:class:`~shopfloor.storage.sealed.SealedArtifacts`), and every read checks the AES-GCM tag and
then the sha256 again, so a changed or swapped entry is dropped and fetched afresh, never served.

Several processes may share the folder: writes go to a temporary file renamed into place. The
least recently used entries go first when the folder holds more than ``max_bytes``.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

_DIGEST = re.compile(r"[0-9a-f]{64}")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class DigestCache:
    """Files under ``folder/<tenant>/<digest[:2]>/<digest>``, at most about ``max_bytes`` in all."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def _path(self, tenant: str, digest: str) -> Path | None:
        if not _DIGEST.fullmatch(digest) or not _TENANT.fullmatch(tenant):
            return None  # not a content address: nothing to cache under it
        return self.folder / tenant / digest[:2] / digest

    def read(self, tenant: str, digest: str) -> bytes | None:
        """The entry's bytes, or None when this host has none."""
        path = self._path(tenant, digest)
        if path is None:
            return None
        try:
            data = path.read_bytes()
            os.utime(path)  # recently used: evicted last
        except OSError:
            return None
        return data

    def write(self, tenant: str, digest: str, blob: bytes) -> None:
        """Keep ``blob`` under the digest; a full or read-only disk only costs the next fetch."""
        path = self._path(tenant, digest)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(blob)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("artifact cache %s: could not keep an entry: %s", self.folder, exc)
            return
        self._trim()

    def discard(self, tenant: str, digest: str) -> None:
        path = self._path(tenant, digest)
        if path is not None:
            path.unlink(missing_ok=True)

    def _trim(self) -> None:
        entries = []
        for path in self.folder.rglob("*"):
            try:
                if path.is_file() and not path.name.startswith(".tmp-"):
                    stat = path.stat()
                    entries.append((stat.st_mtime, stat.st_size, path))
            except OSError:
                continue  # removed by another process meanwhile
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

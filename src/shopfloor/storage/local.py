"""Artifacts as files in a local (or shared, mounted) directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from shopfloor.errors import NotFound, StoreUnavailable


class LocalArtifactStore:
    """Files under ``root``; every write goes to a temporary file first and is renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
            raise ValueError(f"invalid artifact key {key!r}")
        return self.root.joinpath(*parts)

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def put_file(self, key: str, source: Path) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".tmp-{path.name}")
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o600)  # owner-only whatever the process umask
        os.replace(tmp, path)
        return key

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"artifact {key!r} is missing from the artifact store") from None

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.exists():
            raise NotFound(f"artifact {key!r} is missing from the artifact store")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def list_prefix(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return
        for p in sorted(base.rglob("*")):
            if p.is_file() and not p.name.startswith(".tmp-"):
                yield p.relative_to(self.root).as_posix()

    def probe(self) -> None:
        """Write, read back and remove a small file: the directory is there, writable and sound."""
        path = self._path(f".probe-{uuid.uuid4().hex}")
        try:
            self.put_bytes(path.name, b"probe")
            read = path.read_bytes()
            path.unlink()
        except OSError as exc:
            raise StoreUnavailable(
                f"the artifact directory cannot be written and read: {exc.strerror or exc}"
            ) from None
        if read != b"probe":
            raise StoreUnavailable("the artifact directory gave back other bytes than were written")

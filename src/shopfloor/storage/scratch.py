"""Scratch files for data in flight whose plaintext never outlives the process that holds it.

An upload is streamed somewhere before it is parsed, and a batch input is decrypted somewhere for
the parser, which reads a path (it checks the file in several passes). :func:`scratch_file` gives
such a path. On Linux it is an anonymous memory file (``memfd_create``) reached through
``/proc/self/fd``: it has no name in any file system and is never written to disk, and the kernel
frees it when the last descriptor closes, so a request that ends, fails or whose process is
killed (even with SIGKILL) leaves nothing behind. Elsewhere it falls back to an owner-only file in
the process's scratch folder, removed when the context ends and, after a crash, at the next start
(:func:`shopfloor.context.clear_dead_scratch`).

Only the process that made the path can open it; hand it to threads, never to other processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PROC_FD = Path("/proc/self/fd")


def in_memory() -> bool:
    """Whether scratch files live in memory only (anonymous memory files are available)."""
    return hasattr(os, "memfd_create") and _PROC_FD.is_dir()


@contextmanager
def scratch_file(folder: Path, label: str) -> Iterator[Path]:
    """A path to write and read data in flight; its content is gone when the context ends.

    ``folder`` (owner-only) is used only where memory files are not available; ``label`` names
    the file there (and the memory file in ``/proc/<pid>/fd`` listings).
    """
    if in_memory():
        fd = os.memfd_create(label, os.MFD_CLOEXEC)
        try:
            yield _PROC_FD / str(fd)
        finally:
            os.close(fd)
        return
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / label
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)

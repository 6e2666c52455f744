"""Files the server writes are its own: owner-only permissions for everything under the home.

The registry (``registry.db`` and its ``-wal`` / ``-shm`` files, which SQLite creates with the
database's mode), the server secret, the master key, artifacts, metrics snapshots and scratch
files may hold data or secrets of every tenant. :func:`owner_only_files` sets the process umask
to ``0o077`` so that whatever the process or a library creates (SQLite, pyarrow, uvicorn's
workers, job processes, which inherit the umask) is readable by the owner alone; it is called by
every entry point (the CLI, and :meth:`shopfloor.context.Platform.from_settings`, which every
server, job and CLI process goes through). :func:`private_home` creates the home as ``0o700``
and closes a home an older release left open to other users.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_ONLY_UMASK = 0o077


def owner_only_files() -> None:
    """Set this process's umask so new files are ``0o600`` and new folders ``0o700`` at most."""
    os.umask(OWNER_ONLY_UMASK)


def private_home(home: Path) -> None:
    """Create ``home`` owner-only; if it exists, is ours and is open to others, close it."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = home.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        os.chmod(home, 0o700)
        log.warning("closed the home folder %s to other users (it was mode %o)", home, info.st_mode & 0o777)

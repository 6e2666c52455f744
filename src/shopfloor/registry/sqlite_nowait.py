"""Writes to the SQLite registry that never wait, for callers that must not (an event loop).

A write on SQLite needs the database's one write lock; a connection of the store's engine waits
for it up to the driver's busy timeout (30 s) while a job or another API process writes. The
connections here wait for nothing: their busy timeout is zero, so a held lock is answered at
once (:attr:`~shopfloor.registry.entities.Swap.LATER`), and the caller takes the write to a
thread where waiting is harmless.

Nor do they checkpoint the write-ahead log: a checkpoint copies the log into the database file
and syncs both to disk, a wait of its own on a busy disk. SQLite runs one in whichever commit
takes the log past its threshold, so these connections turn that off, and every
:data:`CHECKPOINT_EVERY`-th write is declined (``LATER``) so that a connection of the engine
commits it and checkpoints as SQLite does by itself. Between checkpoints a commit appends to the
log (``synchronous=NORMAL``: no sync of its own), which is what the store's other connections
do as well.

One connection per thread (a connection is used by one thread at a time), closed with the store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from shopfloor.errors import Conflict, RegistryUnavailable
from shopfloor.registry.entities import Swap

#: One write in this many goes to the waiting path, whose connection checkpoints the log.
CHECKPOINT_EVERY = 100
#: SQLite's primary result codes for a lock held by another connection.
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


class NoWaitWrites:
    """Compare-and-swap writes on a SQLite database file that answer ``LATER`` instead of waiting.

    ``database`` is the file's path; None (an in-memory database, which another connection would
    not see) leaves :attr:`available` False, and every write ``LATER``.
    """

    def __init__(self, database: str | None) -> None:
        self.database = database
        self.available = database is not None
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writes = 0

    def swap(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> Swap:
        """Run the conditional ``sql`` (an ``UPDATE ... WHERE ... AND state = ?``) once per row, in
        one transaction: ``DONE`` if every row matched one record (committed), ``STALE`` if one did
        not (rolled back), ``LATER`` if that needed a wait (nothing written)."""
        self._writes += 1
        if not rows or self._writes % CHECKPOINT_EVERY == 0:
            return Swap.LATER if rows else Swap.DONE
        conn = self._connection()
        if conn is None:
            return Swap.LATER
        try:
            if len(rows) == 1:  # one statement: atomic on its own
                return Swap.DONE if conn.execute(sql, rows[0]).rowcount == 1 else Swap.STALE
            conn.execute("BEGIN IMMEDIATE")
            try:
                if all(conn.execute(sql, row).rowcount == 1 for row in rows):
                    conn.execute("COMMIT")
                    return Swap.DONE
                conn.execute("ROLLBACK")
                return Swap.STALE
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                return Swap.LATER
            raise RegistryUnavailable("the registry database is not reachable or busy; try again") from exc
        except sqlite3.IntegrityError as exc:
            raise Conflict("the object already exists or conflicts with another") from exc

    def _connection(self) -> sqlite3.Connection | None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None or not self.available:
            return conn
        try:
            conn = sqlite3.connect(
                self.database or "", timeout=0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error:
            return None  # this time: the waiting path reports what is wrong
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":  # not yet switched by the store: a commit would sync
                conn.close()
                return None
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error:
            conn.close()
            return None
        with self._lock:
            self._opened.append(conn)
        self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every thread's connection (the store is closing: no write is under way)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()

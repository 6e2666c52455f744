"""One ``BEGIN IMMEDIATE`` transaction on a pooled driver connection of the store's engine (SQLite).

The store's bulk writes on SQLite (the prediction log's batches, stream states) go through the
driver's cursor rather than the ORM: no statement compiling, and the write lock taken before the
first read, so two processes updating the same rows never both read the old ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Engine

from shopfloor.errors import Conflict, RegistryUnavailable


@contextmanager
def immediate(engine: Engine) -> Iterator[Any]:
    """A cursor in one ``BEGIN IMMEDIATE`` transaction on a pooled driver connection of ``engine``:
    the write lock taken first, committed when the block ends (unless it rolled back itself), rolled
    back if it raises; the driver's errors translated as the store's (``Conflict``,
    ``RegistryUnavailable``)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            yield cur
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            cur.close()
    except sqlite3.IntegrityError as exc:
        raise Conflict("the object already exists or conflicts with another") from exc
    except sqlite3.OperationalError as exc:
        raise RegistryUnavailable("the registry database is not reachable or busy; try again") from exc
    finally:
        raw.close()  # back to the pool

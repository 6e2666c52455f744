"""SQL for the per-asset state of streaming scoring.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. The state is opaque bytes here (the
service encrypts it); the store only keeps it, bounded per model version. Two ways to advance a
stream: :meth:`StreamTables.update_stream_states` reads the states, lets the caller compute and
writes the new ones in one locking transaction; :meth:`StreamTables.swap_stream_states` writes
new states computed from states the caller already holds, each only if its row still holds
exactly those bytes (a compare-and-swap: no read, no lock held while computing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from shopfloor.errors import Conflict, RegistryUnavailable
from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import Swap
from shopfloor.registry.orm import StreamStateRow
from shopfloor.registry.sqlite_immediate import immediate
from shopfloor.registry.sqlite_nowait import NoWaitWrites

T = TypeVar("T")

_ROW = StreamStateRow
_SAME = (
    _ROW.tenant == bindparam("b_tenant"),
    _ROW.model == bindparam("b_model"),
    _ROW.version == bindparam("b_version"),
)
_READ = (
    select(_ROW.asset, _ROW.state)
    .where(*_SAME, _ROW.asset.in_(bindparam("b_assets", expanding=True)))
    .with_for_update()
)
_WRITE = (
    update(_ROW)
    .where(*_SAME, _ROW.asset == bindparam("b_asset"))
    .values(state=bindparam("b_state"), updated_at=bindparam("b_at"))
)
#: The compare-and-swap: the whole state compared, so it holds whatever the state's format (the
#: service's are sealed with a fresh nonce each time: no two writes leave the same bytes).
_SWAP = (
    update(_ROW)
    .where(*_SAME, _ROW.asset == bindparam("b_asset"), _ROW.state == bindparam("b_old"))
    .values(state=bindparam("b_state"), updated_at=bindparam("b_at"))
)
#: SQLite (the embedded registry): the same read and write as plain SQL on the driver's connection,
#: in one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before the read, so two processes
#: continuing one stream apply one after the other, as ``FOR UPDATE`` does on PostgreSQL). The asset
#: names go in as one JSON array parameter.
_SQLITE_READ = (
    "SELECT asset, state FROM stream_states WHERE tenant = ? AND model = ? AND version = ? "
    "AND asset IN (SELECT value FROM json_each(?))"
)
_SQLITE_WRITE = (
    "UPDATE stream_states SET state = ?, updated_at = ? "
    "WHERE tenant = ? AND model = ? AND version = ? AND asset = ?"
)
_SQLITE_SWAP = _SQLITE_WRITE + " AND state = ?"
_SQLITE_ADD = (
    "INSERT INTO stream_states (tenant, model, version, asset, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_SQLITE_COUNT = "SELECT count(*) FROM stream_states WHERE tenant = ? AND model = ? AND version = ?"
_SQLITE_TRIM = (
    "DELETE FROM stream_states WHERE tenant = ? AND model = ? AND version = ? AND asset IN "
    "(SELECT asset FROM stream_states WHERE tenant = ? AND model = ? AND version = ? "
    "ORDER BY updated_at, asset LIMIT ?)"
)
assert StreamStateRow.__tablename__ == "stream_states"  # noqa: S101 - the SQL above names it


class StreamTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    engine: Engine  # provided by SqlStore

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    @property
    def _nowait(self) -> NoWaitWrites:
        found: NoWaitWrites | None = getattr(self, "_stream_nowait", None)
        if found is None:
            database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
            in_memory = not database or database == ":memory:" or bool(self.engine.url.query)
            found = NoWaitWrites(None if in_memory else database)
            self._stream_nowait = found
        return found

    @property
    def swaps_without_waiting(self) -> bool:
        """Whether :meth:`swap_stream_states` can be tried with ``wait=False`` (a SQLite file)."""
        return self._nowait.available

    def close_streams(self) -> None:
        self._nowait.close()

    @contextmanager
    def _direct(self) -> Iterator[Connection]:
        """One transaction on a bare connection (no ORM session), with the store's error translation."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except IntegrityError as exc:
            raise Conflict("the object already exists or conflicts with another") from exc
        except OperationalError as exc:
            raise RegistryUnavailable("the registry database is not reachable or busy; try again") from exc

    def update_stream_states(
        self,
        tenant: str,
        model: str,
        version: int,
        assets: list[str],
        step: Callable[[dict[str, bytes]], tuple[T, dict[str, bytes]]],
        keep: int,
    ) -> T:
        """Read the states of ``assets``, let ``step`` turn them into a result and new states, write them.

        One transaction: on PostgreSQL the rows are locked (``FOR UPDATE``) so two requests for
        one asset apply one after the other; SQLite serialises writers itself. If ``step`` raises,
        nothing changes. Beyond ``keep`` assets per model version the least recently updated go.
        """
        # Statements built once, run on a bare connection (no ORM session or unit of work): a streaming
        # call scores one point and the registry round trip is most of its cost. Only a new asset can
        # take the version over ``keep``.
        if self.engine.dialect.name == "sqlite":
            return self._update_sqlite(tenant, model, version, assets, step, keep)
        key = {"b_tenant": tenant, "b_model": model, "b_version": version}
        with self._direct() as db:
            rows = db.execute(_READ, {**key, "b_assets": list(assets)})
            found: dict[str, bytes] = {asset: blob for asset, blob in rows}
            result, states = step(found)
            at = _now()
            changed = [
                {**key, "b_asset": a, "b_state": b, "b_at": at} for a, b in states.items() if a in found
            ]
            if changed:
                db.execute(_WRITE, changed)
            added = [
                {
                    "tenant": tenant,
                    "model": model,
                    "version": version,
                    "asset": a,
                    "state": b,
                    "updated_at": at,
                }
                for a, b in states.items()
                if a not in found
            ]
            if added:
                db.execute(insert(StreamStateRow), added)
                self._trim(db, tenant, model, version, keep)
            return result

    def _update_sqlite(
        self,
        tenant: str,
        model: str,
        version: int,
        assets: list[str],
        step: Callable[[dict[str, bytes]], tuple[T, dict[str, bytes]]],
        keep: int,
    ) -> T:
        """:meth:`update_stream_states` on SQLite: the driver's connection, no statement compiling."""
        stamp = self._stamp()
        with immediate(self.engine) as cur:
            cur.execute(_SQLITE_READ, (tenant, model, version, json.dumps(list(assets))))
            found: dict[str, bytes] = {asset: bytes(blob) for asset, blob in cur.fetchall()}
            result, states = step(found)
            at = stamp(_now())
            changed = [(b, at, tenant, model, version, a) for a, b in states.items() if a in found]
            if changed:
                cur.executemany(_SQLITE_WRITE, changed)
            added = [(tenant, model, version, a, b, at) for a, b in states.items() if a not in found]
            if added:
                cur.executemany(_SQLITE_ADD, added)
                self._trim_sqlite(cur, tenant, model, version, keep)
        return result

    def _stamp(self) -> Callable[[Any], Any]:
        """The driver value SQLAlchemy stores for an ``updated_at`` (so both paths write one format)."""
        stamp = getattr(self, "_stream_stamp", None)
        if stamp is None:
            column = StreamStateRow.__table__.c.updated_at
            dialect = self.engine.dialect
            stamp = column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
            self._stream_stamp = stamp
        return cast(Callable[[Any], Any], stamp)

    @staticmethod
    def _trim_sqlite(cur: Any, tenant: str, model: str, version: int, keep: int) -> None:
        same = (tenant, model, version)
        count = cur.execute(_SQLITE_COUNT, same).fetchone()[0]
        if count > keep:
            cur.execute(_SQLITE_TRIM, (*same, *same, count - keep))

    @staticmethod
    def _trim(s: Connection, tenant: str, model: str, version: int, keep: int) -> None:
        same = (
            StreamStateRow.tenant == tenant,
            StreamStateRow.model == model,
            StreamStateRow.version == version,
        )
        count = s.scalar(select(func.count()).select_from(StreamStateRow).where(*same)) or 0
        if count <= keep:
            return
        oldest = list(
            s.scalars(
                select(StreamStateRow.asset)
                .where(*same)
                .order_by(StreamStateRow.updated_at, StreamStateRow.asset)
                .limit(count - keep)
            )
        )
        s.execute(delete(StreamStateRow).where(*same, StreamStateRow.asset.in_(oldest)))

    def swap_stream_states(
        self,
        tenant: str,
        model: str,
        version: int,
        swaps: Mapping[str, tuple[bytes, bytes]],
        *,
        wait: bool = True,
    ) -> Swap:
        """Write ``swaps[asset] = (expected, new)``: every asset's row gets its new state if every
        row still holds exactly its expected bytes (``DONE``); else nothing is written (``STALE``:
        a row holds another state or is gone). One transaction; no row is added or trimmed.

        ``wait=False`` never waits for a lock (an event loop calls it): ``LATER``, nothing written,
        where it would have to (always where :attr:`swaps_without_waiting` is False).
        """
        if not swaps:
            return Swap.DONE
        if self.engine.dialect.name == "sqlite":
            at = self._stamp()(_now())
            rows = [(new, at, tenant, model, version, a, old) for a, (old, new) in swaps.items()]
            return self._nowait.swap(_SQLITE_SWAP, rows) if not wait else self._swap_sqlite(rows)
        if not wait:
            return Swap.LATER
        key = {"b_tenant": tenant, "b_model": model, "b_version": version, "b_at": _now()}
        with self._direct() as db:
            for asset, (old, new) in swaps.items():
                hit = db.execute(_SWAP, {**key, "b_asset": asset, "b_old": old, "b_state": new})
                if hit.rowcount != 1:
                    db.rollback()
                    return Swap.STALE
        return Swap.DONE

    def _swap_sqlite(self, rows: list[tuple[Any, ...]]) -> Swap:
        """The waiting swap on SQLite: one ``BEGIN IMMEDIATE`` transaction on the driver's connection."""
        with immediate(self.engine) as cur:
            if all(cur.execute(_SQLITE_SWAP, row).rowcount == 1 for row in rows):
                return Swap.DONE
            cur.connection.rollback()
            return Swap.STALE

    def list_stream_assets(self, tenant: str, model: str, version: int) -> list[str]:
        with self._session() as s:
            return list(
                s.scalars(
                    select(StreamStateRow.asset)
                    .where(
                        StreamStateRow.tenant == tenant,
                        StreamStateRow.model == model,
                        StreamStateRow.version == version,
                    )
                    .order_by(StreamStateRow.asset)
                )
            )

    def drop_stream_states(self, tenant: str, model: str, asset: str | None = None) -> int:
        """Forget the streaming state of one asset (or all) of every version of ``model``."""
        with self._session() as s:
            query = delete(StreamStateRow).where(
                StreamStateRow.tenant == tenant, StreamStateRow.model == model
            )
            if asset is not None:
                query = query.where(StreamStateRow.asset == asset)
            return int(cast(CursorResult[Any], s.execute(query)).rowcount or 0)

"""SQL for the per-asset state of streaming scoring.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. The state is opaque bytes here (the
service encrypts it); the store only keeps it, bounded per model version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from shopfloor.errors import Conflict, RegistryUnavailable
from shopfloor.registry.clock import now as _now
from shopfloor.registry.orm import StreamStateRow

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


class StreamTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    engine: Engine  # provided by SqlStore

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

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

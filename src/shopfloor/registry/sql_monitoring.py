"""SQL for the prediction log: sampling rates, retention, sealed batches, their index, feedback.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. Payloads and outcomes are opaque bytes here
(the services seal them with the tenant's key); the ids, versions and times beside them are what
queries select on. A batch is written with its index rows in one transaction (``executemany``), and
goes with them and their feedback in one transaction when it has outlived its tenant's retention.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, and_, delete, insert, or_, select, tuple_
from sqlalchemy.orm import Session

from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import naive as _naive
from shopfloor.registry.clock import now as _now
from shopfloor.registry.log_entities import Feedback, LogBatch, LogBlob, LoggedPrediction
from shopfloor.registry.orm import FeedbackRow, LogBlobRow, LoggedRow, LogRateRow, LogRetentionRow
from shopfloor.registry.sql_generation import bump_in
from shopfloor.registry.sqlite_immediate import immediate

#: Keys per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500
_SQLITE_BLOB = (
    "INSERT INTO prediction_log_blobs (id, tenant, model, version, first_at, last_at, records, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
#: Every index row of a batch in one statement, from one JSON array of rows: SQLite inserts them all
#: in C, in one step, so the write lock (which the rate limiter's claims wait for) is held briefly and
#: Python's lock is not handed back and forth once per row with the serving thread. What every row of
#: the batch shares is a parameter, and the slot is the row's index in the array, so each row carries
#: only its own six values.
_SQLITE_LOGGED = (
    "INSERT INTO prediction_log (blob_id, slot, tenant, model, version, request_id, position, source, at, "
    "latency_ms, failed) "
    "SELECT ?, key, ?, ?, ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), "
    "json_extract(value, '$[5]') "
    "FROM json_each(?)"
)
assert LogBlobRow.__tablename__ == "prediction_log_blobs" and LoggedRow.__tablename__ == "prediction_log"  # noqa: S101


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def drop_log_in(s: Session, tenant: str, model: str) -> None:
    """Remove every logged prediction, feedback and the rate of ``model`` inside transaction ``s``
    (the model is being deleted: a model made again under its name starts with an empty log)."""
    for row in (LoggedRow, FeedbackRow, LogBlobRow, LogRateRow):
        s.execute(delete(row).where(row.tenant == tenant, row.model == model))


class MonitoringTables:
    """Needs ``self._session()`` and ``self.engine``, as SqlStore provides."""

    engine: Engine  # provided by SqlStore

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    # ---- sampling rates and retention -----------------------------------------------------------
    def set_log_rate(self, tenant: str, model: str, rate: float) -> None:
        """Log ``rate`` (0 to 1) of ``model``'s predictions from now on; moves the generation so that
        every server process applies it within a second. Rate 0 removes the setting."""
        with self._session() as s:
            row = s.get(LogRateRow, (tenant, model))
            if rate <= 0:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(LogRateRow(tenant=tenant, model=model, rate=rate, updated_at=_now()))
            else:
                row.rate, row.updated_at = rate, _now()
            bump_in(s)

    def log_rates(self, tenant: str) -> dict[str, float]:
        """The tenant's models that log, with their rate (models not listed log nothing)."""
        with self._session() as s:
            rows = s.execute(select(LogRateRow.model, LogRateRow.rate).where(LogRateRow.tenant == tenant))
            return {model: float(rate) for model, rate in rows}

    def set_log_retention(self, tenant: str, days: int | None) -> None:
        """Keep the tenant's log ``days`` days (None: the server default)."""
        with self._session() as s:
            row = s.get(LogRetentionRow, tenant)
            if days is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(LogRetentionRow(tenant=tenant, days=days, updated_at=_now()))
            else:
                row.days, row.updated_at = days, _now()

    def log_retention(self) -> dict[str, int]:
        """Every tenant's own retention in days (tenants not listed keep the server default)."""
        with self._session() as s:
            return {t: int(d) for t, d in s.execute(select(LogRetentionRow.tenant, LogRetentionRow.days))}

    # ---- writing and reading the log ------------------------------------------------------------
    def add_prediction_log(self, batches: Sequence[LogBatch]) -> None:
        """Store sealed batches and the index rows of their slots, all in one transaction."""
        if not batches:
            return
        if self.engine.dialect.name == "sqlite":
            self._add_log_sqlite(batches)
            return
        with self._session() as s:
            s.execute(insert(LogBlobRow), [_blob_values(b.blob) for b in batches])
            s.execute(
                insert(LoggedRow),
                [
                    {
                        "blob_id": b.blob.id,
                        "slot": slot,
                        "tenant": b.blob.tenant,
                        "model": b.blob.model,
                        "version": b.blob.version,
                        "request_id": request_id,
                        "position": position,
                        "source": source,
                        "at": _naive(at),
                        "latency_ms": latency,
                        "failed": failed,
                    }
                    for b in batches
                    for slot, (request_id, position, source, at, (latency, failed)) in enumerate(
                        zip(b.request_ids, b.positions, b.sources, b.times, b.outcomes(), strict=True)
                    )
                ],
            )

    def _add_log_sqlite(self, batches: Sequence[LogBatch]) -> None:
        """:meth:`add_prediction_log` on SQLite, on the driver's connection: the blobs with one
        ``executemany``, the index rows of each batch in one statement from a JSON array (times in
        the format the ORM reads back, made once per call)."""
        stamp = self._log_stamp()
        blob_rows = [tuple(_blob_values(b.blob, stamp).values()) for b in batches]
        index = []
        for b in batches:
            blob = b.blob
            rows = []
            when, last = None, None
            for request_id, position, source, at, (latency, failed) in zip(
                b.request_ids, b.positions, b.sources, b.times, b.outcomes(), strict=True
            ):
                if at is not last:  # the answers of one call share their time
                    last, when = at, stamp(at.replace(tzinfo=None) if at.tzinfo is UTC else _naive(at))
                rows.append((request_id, position, source, when, latency, int(failed)))
            index.append((blob.id, blob.tenant, blob.model, blob.version, json.dumps(rows)))
        with immediate(self.engine) as cur:
            cur.executemany(_SQLITE_BLOB, blob_rows)
            cur.executemany(_SQLITE_LOGGED, index)

    def _log_stamp(self) -> Callable[[datetime], Any]:
        """The driver value SQLAlchemy stores for a naive DateTime (both write paths, one format):
        ``isoformat`` when it writes the same text (it does on SQLite, and costs a tenth), else
        SQLAlchemy's own conversion."""
        column = LoggedRow.__table__.c.at
        dialect = self.engine.dialect
        processor = cast(
            Callable[[datetime], Any],
            column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v),
        )
        probes = (datetime(2026, 1, 5, 12, 0, 0), datetime(2026, 12, 31, 23, 59, 59, 123456))  # noqa: DTZ001
        if all(processor(p) == _iso(p) for p in probes):
            return _iso
        return processor

    def find_logged(
        self,
        tenant: str,
        model: str,
        *,
        keys: Sequence[tuple[str, int]] = (),
        request_ids: Sequence[str] = (),
    ) -> list[LoggedPrediction]:
        """The logged predictions of ``model`` with one of ``keys`` (blob id, slot) or ``request_ids``;
        another tenant's or model's are never returned, nor failed calls (they answered nothing:
        a request retried under its id after a failure names its one answer)."""
        found: list[LoggedPrediction] = []
        same = (LoggedRow.tenant == tenant, LoggedRow.model == model, LoggedRow.failed.is_(False))
        with self._session() as s:
            for part in _chunks(list(keys)):
                query = select(LoggedRow).where(*same, tuple_(LoggedRow.blob_id, LoggedRow.slot).in_(part))
                found.extend(logged_entity(r) for r in s.scalars(query))
            for part in _chunks(list(request_ids)):
                query = select(LoggedRow).where(*same, LoggedRow.request_id.in_(part))
                found.extend(logged_entity(r) for r in s.scalars(query))
        return found

    def list_logged(
        self,
        tenant: str,
        model: str,
        *,
        version: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        request_id: str | None = None,
        after: tuple[datetime, str, int] | None = None,
        newest_first: bool = False,
        limit: int = 1000,
        sources: Sequence[str] | None = None,
        failed: bool | None = False,
    ) -> list[LoggedPrediction]:
        """Logged predictions of ``model`` in time order (``newest_first``: the other way), filtered by
        version, time (``since`` inclusive, ``until`` exclusive), request id and ``sources``; ``after``
        is the ``(at, blob id, slot)`` of the last one of the previous page. Failed calls are left
        out unless ``failed`` is None (both) or True (those only)."""
        order = (LoggedRow.at, LoggedRow.blob_id, LoggedRow.slot)
        query = select(LoggedRow).where(LoggedRow.tenant == tenant, LoggedRow.model == model)
        if failed is not None:
            query = query.where(LoggedRow.failed.is_(failed))
        if version is not None:
            query = query.where(LoggedRow.version == version)
        if since is not None:
            query = query.where(LoggedRow.at >= _naive(since))
        if until is not None:
            query = query.where(LoggedRow.at < _naive(until))
        if request_id is not None:
            query = query.where(LoggedRow.request_id == request_id)
        if sources is not None:
            query = query.where(LoggedRow.source.in_(list(sources)))
        if after is not None:
            at, blob, slot = _naive(after[0]), after[1], after[2]
            later = or_(
                LoggedRow.at > at,
                and_(LoggedRow.at == at, LoggedRow.blob_id > blob),
                and_(LoggedRow.at == at, LoggedRow.blob_id == blob, LoggedRow.slot > slot),
            )
            earlier = or_(
                LoggedRow.at < at,
                and_(LoggedRow.at == at, LoggedRow.blob_id < blob),
                and_(LoggedRow.at == at, LoggedRow.blob_id == blob, LoggedRow.slot < slot),
            )
            query = query.where(earlier if newest_first else later)
        query = query.order_by(*(c.desc() for c in order) if newest_first else order).limit(limit)
        with self._session() as s:
            return [logged_entity(r) for r in s.scalars(query)]

    def get_log_blobs(self, tenant: str, ids: Sequence[str]) -> dict[str, LogBlob]:
        """The sealed batches of ``ids`` that belong to ``tenant``, by id."""
        out: dict[str, LogBlob] = {}
        with self._session() as s:
            for part in _chunks(sorted(set(ids))):
                query = select(LogBlobRow).where(LogBlobRow.tenant == tenant, LogBlobRow.id.in_(part))
                rows = s.scalars(query)
                out.update((r.id, _blob(r)) for r in rows)
        return out

    # ---- feedback ---------------------------------------------------------------------------------
    def put_feedback(self, items: Sequence[Feedback]) -> None:
        """Store the outcomes of logged predictions, replacing any sent before; one transaction."""
        if not items:
            return
        with self._session() as s:
            for part in _chunks(list(items)):
                keys = [(f.blob_id, f.slot) for f in part]
                s.execute(delete(FeedbackRow).where(tuple_(FeedbackRow.blob_id, FeedbackRow.slot).in_(keys)))
            s.execute(
                insert(FeedbackRow),
                [
                    {
                        "blob_id": f.blob_id,
                        "slot": f.slot,
                        "tenant": f.tenant,
                        "model": f.model,
                        "version": f.version,
                        "outcome": f.outcome,
                        "received_at": _naive(f.received_at),
                    }
                    for f in items
                ],
            )

    def get_feedback(self, tenant: str, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Feedback]:
        """The feedback of the logged predictions ``keys`` (blob id, slot) that have one, of ``tenant``."""
        out: dict[tuple[str, int], Feedback] = {}
        with self._session() as s:
            for part in _chunks(list(keys)):
                rows = s.scalars(
                    select(FeedbackRow).where(
                        FeedbackRow.tenant == tenant,
                        tuple_(FeedbackRow.blob_id, FeedbackRow.slot).in_(part),
                    )
                )
                out.update(((r.blob_id, r.slot), _feedback(r)) for r in rows)
        return out

    # ---- retention ------------------------------------------------------------------------------
    def log_tenants(self) -> list[str]:
        """The tenants that have logged predictions."""
        with self._session() as s:
            return sorted(s.scalars(select(LogBlobRow.tenant).distinct()))

    def purge_prediction_log(self, tenant: str, before: datetime, batch: int = _CHUNK) -> int:
        """Delete ``tenant``'s batches whose newest prediction is older than ``before``, with their
        index rows and feedback, ``batch`` batches per transaction; returns the predictions removed.

        Safe with several hosts sweeping at once: each transaction takes its batches with
        ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (two sweepers never wait on, or delete, the same
        rows; SQLite runs one writer at a time), and a batch already gone is simply not found.
        """
        removed = 0
        while True:
            with self._session() as s:
                ids = list(
                    s.scalars(
                        select(LogBlobRow.id)
                        .where(LogBlobRow.tenant == tenant, LogBlobRow.last_at < _naive(before))
                        .order_by(LogBlobRow.last_at)
                        .limit(batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                if not ids:
                    return removed
                s.execute(delete(FeedbackRow).where(FeedbackRow.blob_id.in_(ids)))
                gone = s.execute(delete(LoggedRow).where(LoggedRow.blob_id.in_(ids)))
                removed += int(cast(CursorResult[Any], gone).rowcount or 0)
                s.execute(delete(LogBlobRow).where(LogBlobRow.id.in_(ids)))
            if len(ids) < batch:
                return removed


def _iso(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


def _blob_values(b: LogBlob, stamp: Callable[[datetime], Any] | None = None) -> dict[str, Any]:
    """A blob's column values, in the table's column order (times through ``stamp`` when given)."""
    first, last = _naive(b.first_at), _naive(b.last_at)
    if stamp is not None:
        first, last = stamp(first), stamp(last)
    return {
        "id": b.id,
        "tenant": b.tenant,
        "model": b.model,
        "version": b.version,
        "first_at": first,
        "last_at": last,
        "records": b.records,
        "payload": b.payload,
    }


def logged_entity(r: LoggedRow) -> LoggedPrediction:
    return LoggedPrediction(
        blob_id=r.blob_id,
        slot=r.slot,
        tenant=r.tenant,
        model=r.model,
        version=r.version,
        request_id=r.request_id,
        position=r.position,
        source=r.source,
        at=_aware(r.at),
        latency_ms=r.latency_ms,
        failed=bool(r.failed),
    )


def _blob(r: LogBlobRow) -> LogBlob:
    return LogBlob(
        id=r.id,
        tenant=r.tenant,
        model=r.model,
        version=r.version,
        first_at=_aware(r.first_at),
        last_at=_aware(r.last_at),
        records=r.records,
        payload=bytes(r.payload),
    )


def _feedback(r: FeedbackRow) -> Feedback:
    return Feedback(
        blob_id=r.blob_id,
        slot=r.slot,
        tenant=r.tenant,
        model=r.model,
        version=r.version,
        outcome=bytes(r.outcome),
        received_at=_aware(r.received_at),
    )


__all__ = ["MonitoringTables", "drop_log_in", "logged_entity"]

"""SQL over windows of the prediction log: what the alert signals and the retraining gate read.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`, beside :mod:`shopfloor.registry.sql_monitoring`.
Everything here reads the clear index only (ids, versions, times, each call's latency and whether
it failed) and the feedback table's keys, never a sealed batch: the counts and percentiles are
the same on every host, since they come from the registry every host shares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import naive as _naive
from shopfloor.registry.log_entities import CallOutcomes, LogCount, LoggedPrediction
from shopfloor.registry.orm import FeedbackRow, LoggedRow
from shopfloor.registry.sql_monitoring import logged_entity


class LogWindowQueries:
    """Needs ``self._session()``, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def log_outcomes(
        self, tenant: str, model: str, version: int, since: datetime, until: datetime, sources: Sequence[str]
    ) -> CallOutcomes:
        """The logged calls of ``sources`` to the version in ``[since, until)``: how many, how many
        failed, and the nearest-rank 99th percentile of their latency (two indexed queries: a count,
        then the one latency at that rank)."""
        where = (
            LoggedRow.tenant == tenant,
            LoggedRow.model == model,
            LoggedRow.version == version,
            LoggedRow.at >= _naive(since),
            LoggedRow.at < _naive(until),
            LoggedRow.source.in_(list(sources)),
            LoggedRow.latency_ms.is_not(None),  # one row per call carries it
        )
        with self._session() as s:
            failures = func.coalesce(func.sum(case((LoggedRow.failed.is_(True), 1), else_=0)), 0)
            calls, failed = s.execute(select(func.count(), failures).where(*where)).one()
            if not calls:
                return CallOutcomes(0, 0, None)
            rank = math.ceil(0.99 * calls)  # the value with `rank` calls at or below it
            p99 = s.scalar(
                select(LoggedRow.latency_ms).where(*where).order_by(LoggedRow.latency_ms.desc())
                .offset(calls - rank).limit(1)
            )
        return CallOutcomes(int(calls), int(failed), float(p99) if p99 is not None else None)

    def count_logged(
        self, tenant: str, model: str, version: int, since: datetime, until: datetime
    ) -> LogCount:
        """How many predictions of the version were logged in ``[since, until)`` (failed calls
        apart), how many of them have an outcome, and when the newest outcome came."""
        query = (
            select(func.count(), func.count(FeedbackRow.blob_id), func.max(FeedbackRow.received_at))
            .select_from(LoggedRow)
            .outerjoin(FeedbackRow, _same_prediction())
            .where(
                LoggedRow.tenant == tenant,
                LoggedRow.model == model,
                LoggedRow.version == version,
                LoggedRow.at >= _naive(since),
                LoggedRow.at < _naive(until),
                LoggedRow.failed.is_(False),
            )
        )
        with self._session() as s:
            predictions, outcomes, last = s.execute(query).one()
        return LogCount(int(predictions), int(outcomes), _aware(last) if last is not None else None)

    def list_labelled(
        self,
        tenant: str,
        model: str,
        *,
        since: datetime | None = None,
        after: tuple[datetime, str, int] | None = None,
        limit: int = 1000,
    ) -> list[LoggedPrediction]:
        """Logged predictions of ``model`` (every version) made at or after ``since`` that have an
        outcome, oldest first; ``after``: the ``(at, blob id, slot)`` of the previous page's last."""
        query = (
            select(LoggedRow)
            .join(FeedbackRow, _same_prediction())
            .where(LoggedRow.tenant == tenant, LoggedRow.model == model, FeedbackRow.tenant == tenant)
        )
        if since is not None:
            query = query.where(LoggedRow.at >= _naive(since))
        if after is not None:
            at, blob, slot = _naive(after[0]), after[1], after[2]
            query = query.where(
                or_(
                    LoggedRow.at > at,
                    and_(LoggedRow.at == at, LoggedRow.blob_id > blob),
                    and_(LoggedRow.at == at, LoggedRow.blob_id == blob, LoggedRow.slot > slot),
                )
            )
        query = query.order_by(LoggedRow.at, LoggedRow.blob_id, LoggedRow.slot).limit(limit)
        with self._session() as s:
            return [logged_entity(r) for r in s.scalars(query)]


def _same_prediction() -> Any:
    """The join of a logged prediction with its feedback."""
    return and_(FeedbackRow.blob_id == LoggedRow.blob_id, FeedbackRow.slot == LoggedRow.slot)


__all__ = ["LogWindowQueries"]

"""SQL for the Lookout for Equipment facade's models, inference schedulers, executions and events.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. Several processes on several hosts run due
scheduler ticks against one registry; a tick is claimed by a conditional UPDATE that moves the
scheduler's ``due_at``, ``next_data_end`` and ``revision`` on where the revision is still the one
read (:meth:`LookoutModelTables.claim_lookout_tick`), in one transaction with the execution row it
creates. The execution rows are unique per (scheduler, end of data window) besides: a window is
scored once, whoever races.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from shopfloor.errors import NotFound
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import naive as _naive
from shopfloor.registry.clock import now as _now
from shopfloor.registry.lookout_entities import LookoutEvent, LookoutExecution, LookoutModel, LookoutScheduler
from shopfloor.registry.orm import LookoutEventRow, LookoutExecutionRow, LookoutModelRow, LookoutSchedulerRow


class LookoutModelTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    # ---- models -----------------------------------------------------------------------------------
    def add_lookout_model(self, model: LookoutModel) -> LookoutModel:
        """Store a new Lookout model; Conflict when the tenant has one of that name."""
        with self._session() as s:
            row = LookoutModelRow(
                tenant=model.tenant,
                name=model.name,
                uid=model.uid,
                dataset_name=model.dataset_name,
                job_id=model.job_id,
                config=model.config,
                client_token=model.client_token,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _model(row)

    def get_lookout_model(self, tenant: str, name: str) -> LookoutModel:
        with self._session() as s:
            row = s.get(LookoutModelRow, (tenant, name))
            if row is None:
                raise NotFound(f"model {name!r} not found")
            return _model(row)

    def list_lookout_models(self, tenant: str) -> list[LookoutModel]:
        with self._session() as s:
            rows = s.scalars(
                select(LookoutModelRow).where(LookoutModelRow.tenant == tenant).order_by(LookoutModelRow.name)
            )
            return [_model(r) for r in rows]

    def delete_lookout_model(self, tenant: str, name: str) -> None:
        """Forget the Lookout model (NotFound if unknown); its Shopfloor model is the caller's."""
        with self._session() as s:
            done = s.execute(
                delete(LookoutModelRow).where(LookoutModelRow.tenant == tenant, LookoutModelRow.name == name)
            )
            if _count(done) != 1:
                raise NotFound(f"model {name!r} not found")

    # ---- schedulers -------------------------------------------------------------------------------
    def add_lookout_scheduler(self, scheduler: LookoutScheduler) -> LookoutScheduler:
        """Store a new scheduler; Conflict when the tenant has one of that name."""
        at = _now()
        with self._session() as s:
            row = LookoutSchedulerRow(
                id=scheduler.id,
                tenant=scheduler.tenant,
                name=scheduler.name,
                model=scheduler.model,
                status=scheduler.status,
                frequency_s=scheduler.frequency_s,
                delay_s=scheduler.delay_s,
                config=scheduler.config,
                next_data_end=_opt(scheduler.next_data_end),
                due_at=_opt(scheduler.due_at),
                revision=0,
                latest_result=None,
                created_at=at,
                updated_at=at,
            )
            s.add(row)
            s.flush()
            return _scheduler(row)

    def get_lookout_scheduler(self, tenant: str, name: str) -> LookoutScheduler:
        with self._session() as s:
            return _scheduler(_scheduler_row(s, tenant, name))

    def list_lookout_schedulers(self, tenant: str, model: str | None = None) -> list[LookoutScheduler]:
        with self._session() as s:
            query = select(LookoutSchedulerRow).where(LookoutSchedulerRow.tenant == tenant)
            if model is not None:
                query = query.where(LookoutSchedulerRow.model == model)
            return [_scheduler(r) for r in s.scalars(query.order_by(LookoutSchedulerRow.name))]

    def set_lookout_scheduler_state(
        self,
        tenant: str,
        name: str,
        status: str,
        next_data_end: datetime | None,
        due_at: datetime | None,
        only_from: Sequence[str] | None = None,
    ) -> LookoutScheduler | None:
        """Set the scheduler's state and next window (its revision moves, so a tick claimed from the
        old state is not recorded as the new one's); with ``only_from``, only from those states:
        None when it was in another. NotFound for an unknown scheduler."""
        with self._session() as s:
            row = _scheduler_row(s, tenant, name)
            if only_from is not None and row.status not in only_from:
                return None
            row.status = status
            row.next_data_end = _opt(next_data_end)
            row.due_at = _opt(due_at)
            row.revision += 1
            row.updated_at = _now()
            s.flush()
            return _scheduler(row)

    def delete_lookout_scheduler(self, tenant: str, name: str) -> None:
        """Remove the scheduler with its executions and events (NotFound if unknown)."""
        with self._session() as s:
            row = _scheduler_row(s, tenant, name)
            s.execute(delete(LookoutEventRow).where(LookoutEventRow.scheduler_id == row.id))
            s.execute(delete(LookoutExecutionRow).where(LookoutExecutionRow.scheduler_id == row.id))
            s.delete(row)

    def due_lookout_schedulers(self, now: datetime, limit: int = 100) -> list[LookoutScheduler]:
        """Running schedulers of every tenant whose next tick is due at ``now``, most overdue first."""
        with self._session() as s:
            query = (
                select(LookoutSchedulerRow)
                .where(LookoutSchedulerRow.status == "RUNNING", LookoutSchedulerRow.due_at <= _naive(now))
                .order_by(LookoutSchedulerRow.due_at)
                .limit(limit)
            )
            return [_scheduler(r) for r in s.scalars(query)]

    def claim_lookout_tick(
        self,
        scheduler: LookoutScheduler,
        execution: LookoutExecution,
        next_data_end: datetime,
        next_due: datetime,
    ) -> bool:
        """Take the scheduler's due tick and record ``execution`` (IN_PROGRESS) for it, if the
        scheduler is still running at the revision read: True for exactly one of racing callers.
        A window already scored (a scheduler stopped and started again within it) is not scored
        again: the scheduler moves past it and the answer is False."""
        with self._session() as s:
            done = s.execute(
                update(LookoutSchedulerRow)
                .where(
                    LookoutSchedulerRow.id == scheduler.id,
                    LookoutSchedulerRow.revision == scheduler.revision,
                    LookoutSchedulerRow.status == "RUNNING",
                )
                .values(
                    next_data_end=_naive(next_data_end),
                    due_at=_naive(next_due),
                    revision=scheduler.revision + 1,
                )
            )
            if _count(done) != 1:
                return False
            scored = s.scalar(
                select(LookoutExecutionRow.id).where(
                    LookoutExecutionRow.scheduler_id == scheduler.id,
                    LookoutExecutionRow.data_end == _naive(execution.data_end),
                )
            )
            if scored is not None:
                return False
            s.add(_execution_row(execution))
            return True

    # ---- executions and events --------------------------------------------------------------------
    def finish_lookout_execution(
        self,
        execution_id: str,
        *,
        status: str,
        failed_reason: str | None = None,
        result: tuple[str, str] | None = None,
        model_version: int | None = None,
        events: Sequence[LookoutEvent] = (),
        latest_result: str | None = None,
    ) -> None:
        """Record how an execution ended, with the events it found, and the scheduler's latest
        result (ANOMALOUS / NORMAL) when it scored; only an execution still in progress."""
        with self._session() as s:
            row = s.get(LookoutExecutionRow, execution_id)
            if row is None or row.status != "IN_PROGRESS":
                return
            row.status = status
            row.failed_reason = failed_reason[:5000] if failed_reason else None
            row.result_bucket, row.result_key = result if result else (None, None)
            row.model_version = model_version
            for e in events:
                s.add(
                    LookoutEventRow(
                        id=e.id,
                        tenant=e.tenant,
                        scheduler_id=e.scheduler_id,
                        execution_id=e.execution_id,
                        start=_naive(e.start),
                        end=_naive(e.end),
                        diagnostics=list(e.diagnostics),
                    )
                )
            if latest_result is not None:
                s.execute(
                    update(LookoutSchedulerRow)
                    .where(LookoutSchedulerRow.id == row.scheduler_id)
                    .values(latest_result=latest_result)
                )

    def fail_stale_lookout_executions(self, started_before: datetime, reason: str) -> int:
        """Mark executions still in progress since before ``started_before`` failed (their host
        stopped mid-run); the count."""
        with self._session() as s:
            done = s.execute(
                update(LookoutExecutionRow)
                .where(
                    LookoutExecutionRow.status == "IN_PROGRESS",
                    LookoutExecutionRow.created_at < _naive(started_before),
                )
                .values(status="FAILED", failed_reason=reason)
            )
            return _count(done)

    def list_lookout_executions(
        self,
        tenant: str,
        scheduler_id: str,
        *,
        data_start_after: datetime | None = None,
        data_end_before: datetime | None = None,
        status: str | None = None,
    ) -> list[LookoutExecution]:
        """The scheduler's executions, newest window first."""
        with self._session() as s:
            query = select(LookoutExecutionRow).where(
                LookoutExecutionRow.tenant == tenant, LookoutExecutionRow.scheduler_id == scheduler_id
            )
            if data_start_after is not None:
                query = query.where(LookoutExecutionRow.data_start >= _naive(data_start_after))
            if data_end_before is not None:
                query = query.where(LookoutExecutionRow.data_end <= _naive(data_end_before))
            if status is not None:
                query = query.where(LookoutExecutionRow.status == status)
            rows = s.scalars(query.order_by(LookoutExecutionRow.data_end.desc()))
            return [_execution(r) for r in rows]

    def list_lookout_events(
        self, tenant: str, scheduler_id: str, start: datetime, end: datetime
    ) -> list[LookoutEvent]:
        """The scheduler's events that overlap ``[start, end]``, oldest first."""
        with self._session() as s:
            rows = s.scalars(
                select(LookoutEventRow)
                .where(
                    LookoutEventRow.tenant == tenant,
                    LookoutEventRow.scheduler_id == scheduler_id,
                    LookoutEventRow.start <= _naive(end),
                    LookoutEventRow.end >= _naive(start),
                )
                .order_by(LookoutEventRow.start)
            )
            return [_event(r) for r in rows]


def _count(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _opt(value: datetime | None) -> datetime | None:
    return _naive(value) if value is not None else None


def _scheduler_row(s: Session, tenant: str, name: str) -> LookoutSchedulerRow:
    row = s.scalar(
        select(LookoutSchedulerRow).where(
            LookoutSchedulerRow.tenant == tenant, LookoutSchedulerRow.name == name
        )
    )
    if row is None:
        raise NotFound(f"inference scheduler {name!r} not found")
    return row


def _model(r: LookoutModelRow) -> LookoutModel:
    return LookoutModel(
        tenant=r.tenant,
        name=r.name,
        uid=r.uid,
        dataset_name=r.dataset_name,
        job_id=r.job_id,
        config=dict(r.config),
        client_token=r.client_token,
        created_at=_aware(r.created_at),
    )


def _scheduler(r: LookoutSchedulerRow) -> LookoutScheduler:
    return LookoutScheduler(
        id=r.id,
        tenant=r.tenant,
        name=r.name,
        model=r.model,
        status=r.status,
        frequency_s=r.frequency_s,
        delay_s=r.delay_s,
        config=dict(r.config),
        next_data_end=_aware(r.next_data_end),
        due_at=_aware(r.due_at),
        revision=r.revision,
        latest_result=r.latest_result,
        created_at=_aware(r.created_at),
        updated_at=_aware(r.updated_at),
    )


def _execution_row(e: LookoutExecution) -> LookoutExecutionRow:
    return LookoutExecutionRow(
        id=e.id,
        tenant=e.tenant,
        scheduler_id=e.scheduler_id,
        scheduled_start=_naive(e.scheduled_start),
        data_start=_naive(e.data_start),
        data_end=_naive(e.data_end),
        status=e.status,
        failed_reason=e.failed_reason,
        result_bucket=e.result_bucket,
        result_key=e.result_key,
        model_version=e.model_version,
        created_at=_now(),
    )


def _execution(r: LookoutExecutionRow) -> LookoutExecution:
    return LookoutExecution(
        id=r.id,
        tenant=r.tenant,
        scheduler_id=r.scheduler_id,
        scheduled_start=_aware(r.scheduled_start),
        data_start=_aware(r.data_start),
        data_end=_aware(r.data_end),
        status=r.status,
        failed_reason=r.failed_reason,
        result_bucket=r.result_bucket,
        result_key=r.result_key,
        model_version=r.model_version,
        created_at=_aware(r.created_at),
    )


def _event(r: LookoutEventRow) -> LookoutEvent:
    return LookoutEvent(
        id=r.id,
        tenant=r.tenant,
        scheduler_id=r.scheduler_id,
        execution_id=r.execution_id,
        start=_aware(r.start),
        end=_aware(r.end),
        diagnostics=list(r.diagnostics),
    )

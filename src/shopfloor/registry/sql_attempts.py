"""SQL for jobs run by an engine that may run a task twice (Dask re-runs the tasks of a lost worker).

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. Each run claims its job by id and gets
an attempt number; a run whose job is already running elsewhere with a fresh heartbeat (a
lease) does nothing, and a running job whose lease has expired is taken over by the next
attempt, at most ``max_attempts`` in all. Writes of a run carry its attempt number, so a run
that lost its lease can no longer change the job: exactly once in effect.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import TERMINAL
from shopfloor.registry.orm import JobRow


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class AttemptTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def queued_job_ids(self) -> list[str]:
        """Every queued job of every tenant, oldest first."""
        with self._session() as s:
            query = select(JobRow.id).where(JobRow.status == "queued").order_by(JobRow.created_at, JobRow.id)
            return list(s.scalars(query))

    def claim_attempt(
        self, job_id: str, worker: str, *, lease_expired_before: datetime, max_attempts: int
    ) -> int | None:
        """Claim job ``job_id`` for one run; returns the attempt number, or None when this run
        must do nothing.

        A queued job becomes running (attempt 1). A running job whose heartbeat is older than
        ``lease_expired_before`` lost its worker: the next attempt takes it over, or, when
        ``max_attempts`` runs were made already, the job fails with the reason. A finished or
        cancelled job, or one running with a fresh heartbeat, is left alone.
        """
        now, cutoff = _now(), _naive(lease_expired_before)
        with self._session() as s:
            taken = s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    or_(
                        JobRow.status == "queued",
                        and_(
                            JobRow.status == "running",
                            JobRow.heartbeat_at < cutoff,
                            JobRow.attempts < max_attempts,
                            JobRow.cancel_requested.is_(False),
                        ),
                    ),
                )
                .values(
                    status="running",
                    worker=worker,
                    started_at=now,
                    heartbeat_at=now,
                    stage="starting",
                    progress=0.0,
                    message=None,
                    attempts=JobRow.attempts + 1,
                )
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return int(s.scalar(select(JobRow.attempts).where(JobRow.id == job_id)) or 0)
            row = s.get(JobRow, job_id)
            if row is not None and row.status == "running" and row.heartbeat_at is not None:
                if row.heartbeat_at < cutoff:  # lease lost and no attempt left (or cancel asked)
                    if row.cancel_requested:
                        row.status, row.error = "cancelled", "cancelled on request"
                    else:
                        row.status = "failed"
                        row.error = (
                            f"the job's worker stopped during attempt {row.attempts} of {max_attempts} "
                            f"({row.worker}); not run again"
                        )
                    row.stage, row.finished_at = row.status, now
            return None

    def renew_lease(self, job_id: str, attempt: int) -> bool:
        """Refresh the heartbeat of attempt ``attempt``; True while that run should go on (it still
        owns the running job and no cancellation was asked)."""
        with self._session() as s:
            row = s.get(JobRow, job_id)
            if row is None or row.status != "running" or row.attempts != attempt:
                return False
            row.heartbeat_at = _now()
            return not row.cancel_requested

    def finish_attempt(
        self,
        job_id: str,
        attempt: int,
        status: str,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """Finish the job as attempt ``attempt`` left it; False (nothing changed) when the job is
        finished already or another attempt owns it."""
        assert status in TERMINAL
        values: dict[str, Any] = dict(status=status, stage=status, error=error, result=result)
        if status == "succeeded":
            values["progress"] = 1.0
        with self._session() as s:
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running", JobRow.attempts == attempt)
                .values(**values, finished_at=_now())
            )
            return int(done.rowcount) == 1  # type: ignore[attr-defined]

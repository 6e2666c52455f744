"""SQL for alerts: rules, where each rule stands, and the webhooks they send.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. Several processes on several hosts evaluate
rules and send webhooks against one registry; every step that must happen once is a conditional
UPDATE whose row count says who did it:

* evaluating a rule is claimed by moving its ``next_eval_at`` on, where the state's ``revision``
  is still the one read (:meth:`AlertTables.claim_alert_evaluation`);
* a transition (ok -> pending -> firing -> ok) is written where the ``revision`` is still the one
  the evaluation started from, in one transaction with the webhooks it queues
  (:meth:`AlertTables.record_alert_evaluation`), so a transition is made and notified once;
* sending a webhook is claimed by moving its ``next_attempt_at`` past the attempt's timeout and
  setting ``lease``; only the lease holder records the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from shopfloor.errors import NotFound
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import naive as _naive
from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import (
    ALERT_RULE_FIELDS,
    AlertDelivery,
    AlertRule,
    AlertState,
    NewDelivery,
)
from shopfloor.registry.orm import AlertDeliveryRow, AlertRuleRow, AlertStateRow, TenantRow

#: Rule fields a change may set (``id``, ``tenant`` and the times are the store's).
RULE_FIELDS = frozenset({*ALERT_RULE_FIELDS, "sealed_secret", "sealed_targets", "target_hosts"})
#: Changes after which the rule is evaluated afresh at the next round (its state is kept: a firing
#: rule whose new condition no longer holds resolves, with its notification).
_CONDITION = frozenset({"model", "version", "signal", "input", "metric", "comparison", "bound", "window_s"})
_COLUMN = {"sealed_secret": "secret", "sealed_targets": "targets"}


def _rows(rows: Iterable[Any]) -> list[tuple[AlertRule, AlertState]]:
    return [(_rule(r), _state(s)) for r, s in rows]


class AlertTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    # ---- rules ------------------------------------------------------------------------------------
    def add_alert_rule(self, rule: AlertRule) -> AlertRule:
        """Store a new rule, in state ok and due for evaluation now. Conflict on a taken name."""
        at = _now()
        with self._session() as s:
            if s.get(TenantRow, rule.tenant) is None:
                raise NotFound(f"tenant {rule.tenant!r} not found")
            row = AlertRuleRow(
                id=rule.id,
                tenant=rule.tenant,
                created_at=at,
                updated_at=at,
                **{_COLUMN.get(k, k): _plain(getattr(rule, k)) for k in RULE_FIELDS},
            )
            s.add(row)
            s.flush()
            s.add(
                AlertStateRow(
                    rule_id=rule.id, tenant=rule.tenant, state="ok", since=at, next_eval_at=at, revision=0
                )
            )
            return _rule(row)

    def get_alert_rule(self, tenant: str, rule_id: str) -> AlertRule:
        with self._session() as s:
            return _rule(_rule_row(s, tenant, rule_id))

    def list_alert_rules(self, tenant: str, model: str | None = None) -> list[AlertRule]:
        with self._session() as s:
            query = select(AlertRuleRow).where(AlertRuleRow.tenant == tenant)
            if model is not None:
                query = query.where(AlertRuleRow.model == model)
            return [_rule(r) for r in s.scalars(query.order_by(AlertRuleRow.model, AlertRuleRow.name))]

    def update_alert_rule(self, tenant: str, rule_id: str, changes: dict[str, Any]) -> AlertRule:
        """Apply ``changes`` (keys of :data:`RULE_FIELDS`). A changed condition makes the rule due
        now; disabling it sets its state back to ok (no notification: nothing is watched any more)."""
        unknown = set(changes) - RULE_FIELDS
        if unknown:
            raise ValueError(f"not rule fields: {sorted(unknown)}")
        at = _now()
        with self._session() as s:
            row = _rule_row(s, tenant, rule_id)
            for key, value in changes.items():
                setattr(row, _COLUMN.get(key, key), _plain(value))
            row.updated_at = at
            state = s.get(AlertStateRow, rule_id)
            if state is not None and (changes.keys() & _CONDITION or "enabled" in changes):
                state.revision += 1  # an evaluation of the old condition in flight records nothing
                state.next_eval_at = at
                if not row.enabled:
                    state.state, state.since, state.value, state.note = "ok", at, None, "rule disabled"
            s.flush()
            return _rule(row)

    def delete_alert_rule(self, tenant: str, rule_id: str) -> None:
        """Delete a rule with its state and its deliveries, sent or not."""
        with self._session() as s:
            _rule_row(s, tenant, rule_id)
            s.execute(delete(AlertDeliveryRow).where(AlertDeliveryRow.rule_id == rule_id))
            s.execute(delete(AlertStateRow).where(AlertStateRow.rule_id == rule_id))
            s.execute(delete(AlertRuleRow).where(AlertRuleRow.id == rule_id))

    # ---- states -----------------------------------------------------------------------------------
    def list_alert_states(
        self, tenant: str | None, model: str | None = None, rule_id: str | None = None
    ) -> list[tuple[AlertRule, AlertState]]:
        """Rules with their states: of ``tenant`` (every tenant's with None), one model or one rule."""
        with self._session() as s:
            query = select(AlertRuleRow, AlertStateRow).join(
                AlertStateRow, AlertStateRow.rule_id == AlertRuleRow.id
            )
            if tenant is not None:
                query = query.where(AlertRuleRow.tenant == tenant)
            if model is not None:
                query = query.where(AlertRuleRow.model == model)
            if rule_id is not None:
                query = query.where(AlertRuleRow.id == rule_id)
            return _rows(s.execute(query.order_by(AlertRuleRow.model, AlertRuleRow.name)).all())

    def due_alert_rules(self, now: datetime, limit: int = 200) -> list[tuple[AlertRule, AlertState]]:
        """Enabled rules of every tenant whose next evaluation is due at ``now``, most overdue first."""
        with self._session() as s:
            query = (
                select(AlertRuleRow, AlertStateRow)
                .join(AlertStateRow, AlertStateRow.rule_id == AlertRuleRow.id)
                .where(AlertRuleRow.enabled.is_(True), AlertStateRow.next_eval_at <= _naive(now))
                .order_by(AlertStateRow.next_eval_at)
                .limit(limit)
            )
            return _rows(s.execute(query).all())

    def claim_alert_evaluation(
        self, rule_id: str, revision: int, now: datetime, next_eval_at: datetime
    ) -> int | None:
        """Take the evaluation of a due rule: the state's new revision, or None when another process
        took it (or the rule changed) since ``revision`` was read."""
        with self._session() as s:
            done = s.execute(
                update(AlertStateRow)
                .where(
                    AlertStateRow.rule_id == rule_id,
                    AlertStateRow.revision == revision,
                    AlertStateRow.next_eval_at <= _naive(now),
                )
                .values(next_eval_at=_naive(next_eval_at), revision=revision + 1)
            )
            return revision + 1 if _count(done) == 1 else None

    def record_alert_evaluation(
        self,
        rule_id: str,
        revision: int,
        *,
        state: str,
        since: datetime,
        value: float | None,
        version: int | None,
        note: str | None,
        at: datetime,
        deliveries: Sequence[NewDelivery] = (),
    ) -> bool:
        """Write an evaluation's outcome, and queue ``deliveries`` with it, if the state is still at
        ``revision``: True if this call wrote it (so exactly one of several racing evaluators)."""
        with self._session() as s:
            done = s.execute(
                update(AlertStateRow)
                .where(AlertStateRow.rule_id == rule_id, AlertStateRow.revision == revision)
                .values(
                    state=state,
                    since=_naive(since),
                    value=value,
                    version=version,
                    note=note[:300] if note else None,
                    evaluated_at=_naive(at),
                    revision=revision + 1,
                )
            )
            if _count(done) != 1:
                return False
            if deliveries:
                tenant = s.scalars(select(AlertRuleRow.tenant).where(AlertRuleRow.id == rule_id)).one()
                _queue(s, tenant, rule_id, deliveries, _naive(at))
            return True

    def queue_alert_deliveries(
        self, tenant: str, rule_id: str, deliveries: list[NewDelivery]
    ) -> list[AlertDelivery]:
        """Queue webhooks outside any transition (a test of the rule's targets)."""
        with self._session() as s:
            _rule_row(s, tenant, rule_id)
            return [_delivery(r) for r in _queue(s, tenant, rule_id, deliveries, _now())]

    # ---- deliveries -------------------------------------------------------------------------------
    def claim_alert_deliveries(
        self, now: datetime, lease: str, lease_until: datetime, limit: int = 20
    ) -> list[AlertDelivery]:
        """Claim up to ``limit`` webhooks due at ``now`` for one attempt each, under ``lease`` until
        ``lease_until``; each claim counts an attempt. A delivery whose last attempt never reported
        (its process stopped) is marked failed instead."""
        moment = _naive(now)
        due = (
            AlertDeliveryRow.status == "pending",
            AlertDeliveryRow.next_attempt_at <= moment,
        )
        claimed: list[AlertDelivery] = []
        with self._session() as s:
            rows = s.execute(
                select(AlertDeliveryRow.id, AlertDeliveryRow.attempts, AlertDeliveryRow.max_attempts)
                .where(*due)
                .order_by(AlertDeliveryRow.next_attempt_at)
                .limit(limit)
            ).all()
        for delivery_id, attempts, most in rows:
            with self._session() as s:
                mine = AlertDeliveryRow.id == delivery_id
                if attempts >= most:
                    s.execute(
                        update(AlertDeliveryRow)
                        .where(mine, *due)
                        .values(status="failed", lease=None, finished_at=moment)
                    )
                    continue
                done = s.execute(
                    update(AlertDeliveryRow)
                    .where(mine, *due)
                    .values(
                        lease=lease,
                        next_attempt_at=_naive(lease_until),
                        attempts=AlertDeliveryRow.attempts + 1,
                    )
                )
                if _count(done) == 1:
                    claimed.append(_delivery(s.get_one(AlertDeliveryRow, delivery_id)))
        return claimed

    def finish_alert_attempt(
        self,
        delivery_id: str,
        lease: str,
        entry: dict[str, Any],
        *,
        status: str,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Record one attempt's outcome (``entry`` goes to the log): ``status`` pending (to retry at
        ``next_attempt_at``), delivered or failed. False if ``lease`` is no longer held."""
        with self._session() as s:
            row = s.scalars(
                select(AlertDeliveryRow).where(
                    AlertDeliveryRow.id == delivery_id, AlertDeliveryRow.lease == lease
                )
            ).one_or_none()
            if row is None:
                return False
            at = _now()
            done = s.execute(
                update(AlertDeliveryRow)
                .where(AlertDeliveryRow.id == delivery_id, AlertDeliveryRow.lease == lease)
                .values(
                    status=status,
                    lease=None,
                    log=[*row.log, entry],
                    next_attempt_at=_naive(next_attempt_at) if next_attempt_at is not None else at,
                    finished_at=None if status == "pending" else at,
                )
            )
            return _count(done) == 1

    def list_alert_deliveries(self, tenant: str, rule_id: str, limit: int = 100) -> list[AlertDelivery]:
        """The rule's webhooks, newest first."""
        with self._session() as s:
            _rule_row(s, tenant, rule_id)
            rows = s.scalars(
                select(AlertDeliveryRow)
                .where(AlertDeliveryRow.rule_id == rule_id)
                .order_by(AlertDeliveryRow.created_at.desc(), AlertDeliveryRow.id)
                .limit(limit)
            )
            return [_delivery(r) for r in rows]

    def prune_alert_deliveries(self, finished_before: datetime) -> int:
        """Delete the deliveries (sent or given up) finished before ``finished_before``."""
        with self._session() as s:
            done = s.execute(
                delete(AlertDeliveryRow).where(
                    AlertDeliveryRow.status != "pending",
                    AlertDeliveryRow.finished_at < _naive(finished_before),
                )
            )
            return _count(done)


def _count(result: Any) -> int:
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE and DELETE give a cursor result
    return int(result.rowcount or 0)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _queue(
    s: Session, tenant: str, rule_id: str, deliveries: Sequence[NewDelivery], at: datetime
) -> list[AlertDeliveryRow]:
    rows = [
        AlertDeliveryRow(
            id=d.id,
            tenant=tenant,
            rule_id=rule_id,
            event=d.event,
            target=d.sealed_target,
            target_host=d.target_host,
            payload=d.payload,
            status="pending",
            attempts=0,
            max_attempts=d.max_attempts,
            next_attempt_at=at,
            log=[],
            created_at=at,
        )
        for d in deliveries
    ]
    s.add_all(rows)
    s.flush()
    return rows


def _rule_row(s: Session, tenant: str, rule_id: str) -> AlertRuleRow:
    row = s.get(AlertRuleRow, rule_id)
    if row is None or row.tenant != tenant:
        raise NotFound(f"alert rule {rule_id!r} not found")
    return row


def _rule(r: AlertRuleRow) -> AlertRule:
    values: dict[str, Any] = {k: getattr(r, _COLUMN.get(k, k)) for k in RULE_FIELDS}
    values.update(target_hosts=tuple(r.target_hosts))
    values.update(created_at=_aware(r.created_at), updated_at=_aware(r.updated_at))
    return AlertRule(id=r.id, tenant=r.tenant, **values)


def _state(r: AlertStateRow) -> AlertState:
    return AlertState(
        rule_id=r.rule_id,
        tenant=r.tenant,
        state=r.state,
        since=_aware(r.since),
        value=r.value,
        version=r.version,
        note=r.note,
        evaluated_at=_aware(r.evaluated_at),
        next_eval_at=_aware(r.next_eval_at),
        revision=r.revision,
    )


def _delivery(r: AlertDeliveryRow) -> AlertDelivery:
    return AlertDelivery(
        id=r.id,
        tenant=r.tenant,
        rule_id=r.rule_id,
        event=r.event,
        target_host=r.target_host,
        payload=dict(r.payload),
        status=r.status,
        attempts=r.attempts,
        max_attempts=r.max_attempts,
        next_attempt_at=_aware(r.next_attempt_at),
        log=tuple(r.log),
        created_at=_aware(r.created_at),
        finished_at=_aware(r.finished_at),
        sealed_target=r.target,
        lease=r.lease,
    )


__all__ = ["RULE_FIELDS", "AlertTables"]

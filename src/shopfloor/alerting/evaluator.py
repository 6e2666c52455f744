"""Evaluating the rules that are due: read each one's signal, step its state, queue its webhooks.

Every API process may run :meth:`Evaluator.evaluate_due` at the same time, on every host: a
process takes a rule's evaluation by a conditional UPDATE (one process per rule and interval),
and writes the outcome by another that holds only if nothing moved the state meanwhile, in one
transaction with the webhooks of a transition. So a transition happens, is audited and is
notified exactly once, whichever processes race for it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shopfloor.alerting import rules
from shopfloor.alerting.sealing import open_targets, seal_url
from shopfloor.alerting.signals import Reading, SignalQuery, SignalRegistry
from shopfloor.context import Platform
from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.entities import AlertRule, AlertState, NewDelivery
from shopfloor.registry.ids import new_id
from shopfloor.services import audit

log = logging.getLogger(__name__)


def payload(
    rule: AlertRule,
    delivery_id: str,
    event: str,
    state: str,
    value: float | None,
    version: int | None,
    at: datetime,
) -> dict[str, Any]:
    """The JSON body of one webhook."""
    return {
        "id": delivery_id,
        "event": event,
        "state": state,
        "time": at.astimezone(UTC).isoformat(),
        "tenant": rule.tenant,
        "rule": {"id": rule.id, "name": rule.name, "severity": rule.severity},
        "model": rule.model,
        "version": version,
        "signal": rule.signal,
        "input": rule.input,
        "metric": rule.metric,
        "value": value,
        "comparison": rule.comparison,
        "bound": rule.bound,
        "window_s": rule.window_s,
        "for_s": rule.for_s,
        "message": rules.sentence(rule, event, value, version),
    }


def notifications(
    platform: Platform,
    rule: AlertRule,
    event: str,
    state: str,
    value: float | None,
    version: int | None,
    at: datetime,
) -> list[NewDelivery]:
    """One webhook per target of ``rule`` (none without targets), each URL sealed on its own."""
    if not rule.target_hosts:
        return []
    out = []
    for url, host in zip(open_targets(platform, rule), rule.target_hosts, strict=True):
        delivery_id = new_id("adl")
        out.append(
            NewDelivery(
                id=delivery_id,
                event=event,
                sealed_target=seal_url(platform, rule.tenant, delivery_id, url),
                target_host=host,
                payload=payload(rule, delivery_id, event, state, value, version, at),
                max_attempts=platform.settings.webhook_max_attempts,
            )
        )
    return out


class Evaluator:
    """Evaluates due rules with the signal values of ``signals``."""

    def __init__(self, platform: Platform, signals: SignalRegistry) -> None:
        self.platform = platform
        self.signals = signals

    def evaluate_due(self, now: datetime | None = None, limit: int = 200) -> list[tuple[str, str]]:
        """Evaluate the rules due at ``now`` that this process takes; the ``(rule id, event)`` of
        each notifying transition this process made."""
        now = now or datetime.now(UTC)
        store = self.platform.store
        interval = timedelta(seconds=self.platform.settings.alert_eval_interval_s or 30.0)
        events: list[tuple[str, str]] = []
        for rule, state in store.due_alert_rules(now, limit):
            revision = store.claim_alert_evaluation(rule.id, state.revision, now, now + interval)
            if revision is None:
                continue  # another process has it
            try:
                event = self.evaluate(rule, state, revision, now)
            except Exception:  # one rule's failure (a registry hiccup) must not stop the others
                log.exception("evaluating alert rule %s failed", rule.id)
                continue
            if event is not None:
                events.append((rule.id, event))
        return events

    def evaluate(self, rule: AlertRule, state: AlertState, revision: int, now: datetime) -> str | None:
        """Read the rule's signal, step its state and record both at ``revision``; the event
        (``firing``, ``resolved``) if this call made a notifying transition."""
        version, reading = self.read(rule, now)
        moved = rules.step(
            state.state, state.since, reading.value, rule.comparison, rule.bound, rule.for_s, now
        )
        deliveries = (
            notifications(self.platform, rule, moved.event, moved.state, reading.value, version, now)
            if moved.event
            else []
        )
        written = self.platform.store.record_alert_evaluation(
            rule.id,
            revision,
            state=moved.state,
            since=moved.since,
            value=reading.value,
            version=version,
            note=reading.note,
            at=now,
            deliveries=deliveries,
        )
        if not written or moved.event is None:
            return None
        audit.record(
            self.platform,
            None,
            f"alert.{moved.event}",
            rule.id,
            tenant=rule.tenant,
            rule=rule.name,
            model=rule.model,
            version=version,
            signal=rule.signal,
            value=reading.value,
            comparison=rule.comparison,
            bound=rule.bound,
            severity=rule.severity,
            webhooks=len(deliveries),
        )
        return moved.event

    def read(self, rule: AlertRule, now: datetime) -> tuple[int | None, Reading]:
        """The model version the rule watches now, and its signal's value over the window."""
        version, why = self._version(rule)
        if version is None:
            return None, Reading(None, why)
        query = SignalQuery(
            tenant=rule.tenant,
            model=rule.model,
            version=version,
            signal=rule.signal,
            window_s=rule.window_s,
            until=now,
            input=rule.input,
            metric=rule.metric,
        )
        return version, self.signals.read(query)

    def _version(self, rule: AlertRule) -> tuple[int | None, str]:
        """The pinned version, else the production alias's, else the latest; None with the reason."""
        store = self.platform.store
        try:
            if rule.version is not None:
                return store.get_version(rule.tenant, rule.model, rule.version).version, ""
            try:
                return store.resolve(rule.tenant, rule.model, None).version, ""
            except Conflict:  # no production alias: the newest version is the deployed one
                latest = store.get_model(rule.tenant, rule.model).latest_version
                return (latest, "") if latest > 0 else (None, f"model {rule.model!r} has no version")
        except NotFound:
            pinned = f" version {rule.version}" if rule.version is not None else ""
            return None, f"model {rule.model!r}{pinned} not found"

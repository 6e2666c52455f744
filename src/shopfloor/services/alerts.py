"""Alert rules on deployed models: create, change, delete, test; their states and webhooks; the
Prometheus view of them; and the background work of each API process (:func:`watch`).

Signal sources are registered per process on :func:`signals`; the parts that compute monitored
signals (the prediction log, drift detection, live performance) add theirs in
:func:`_default_signals`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shopfloor.alerting import prometheus, rules
from shopfloor.alerting.delivery import policy_of
from shopfloor.alerting.evaluator import notifications
from shopfloor.alerting.sealing import open_targets, seal_secret, seal_targets
from shopfloor.alerting.signals import SignalRegistry, SignalSource
from shopfloor.alerting.worker import AlertWorker
from shopfloor.context import Platform
from shopfloor.errors import Conflict, InvalidInput, NotFound, TargetNotAllowed
from shopfloor.metrics import GaugeSample
from shopfloor.registry.entities import ALERT_RULE_FIELDS, AlertDelivery, AlertRule, AlertState
from shopfloor.registry.ids import new_id
from shopfloor.security.keys import Principal
from shopfloor.security.signatures import new_webhook_secret
from shopfloor.services import audit

#: The fields of a rule as the API shows and takes them (targets apart: they are sealed).
FIELDS = ALERT_RULE_FIELDS
#: Fields an update may set to null (the others keep their value when left out).
_NULLABLE = frozenset({"version", "input", "metric", "targets"})
_DEFAULTS: dict[str, Any] = {
    "version": None,
    "input": None,
    "metric": None,
    "window_s": 900,
    "for_s": 0,
    "severity": "warning",
    "enabled": True,
}


# -- signal sources and the background work --------------------------------------------------------


def _default_signals(platform: Platform) -> SignalRegistry:
    """The signal sources of this server. Each part that computes a monitored signal registers its
    source here: ``use_outcome_log(found, <prediction log>)`` for error_rate and latency_p99_ms,
    ``found.register("drift_score", ...)``, ``found.register("estimated_metric", ...)`` and
    ``found.register("realised_metric", ...)``. A signal without a source reads as unknown."""
    return SignalRegistry()


def signals(platform: Platform) -> SignalRegistry:
    """The process's signal sources for ``platform`` (made on first use)."""
    found: SignalRegistry | None = vars(platform).get("_alert_signals")
    if found is None:
        found = vars(platform).setdefault("_alert_signals", _default_signals(platform))
    return found


def register_signal(platform: Platform, signal: str, source: SignalSource) -> None:
    """Make ``source`` answer for ``signal`` in this process (replacing the one registered)."""
    signals(platform).register(signal, source)


async def watch(platform: Platform) -> None:
    """The API process's alert task: evaluate due rules and send webhooks until cancelled."""
    await AlertWorker(platform, signals(platform)).run()


# -- rules --------------------------------------------------------------------------------------


def create_rule(platform: Platform, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Store a rule of the caller's tenant; its view with the webhook ``secret`` (shown once)."""
    spec = {**_DEFAULTS, **{k: v for k, v in body.items() if k in FIELDS}}
    targets = list(body.get("targets") or [])
    _check(platform, principal.tenant, spec, targets)
    rule_id, secret = new_id("alr"), new_webhook_secret()
    rule = AlertRule(
        id=rule_id,
        tenant=principal.tenant,
        target_hosts=_hosts(platform, targets),
        sealed_secret=seal_secret(platform, principal.tenant, rule_id, secret),
        sealed_targets=seal_targets(platform, principal.tenant, rule_id, targets),
        **spec,
    )
    try:
        stored = platform.store.add_alert_rule(rule)
    except Conflict:
        raise _taken(spec["name"]) from None
    audit.record(
        platform,
        principal,
        "alert.rule.create",
        rule_id,
        name=stored.name,
        model=stored.model,
        signal=stored.signal,
        hosts=list(stored.target_hosts),
    )
    return {**_view(platform, stored, _state_of(platform, stored)), "secret": secret}


def list_rules(platform: Platform, tenant: str, model: str | None = None) -> list[dict[str, Any]]:
    return [_view(platform, rule, state) for rule, state in platform.store.list_alert_states(tenant, model)]


def get_rule(platform: Platform, tenant: str, rule_id: str) -> dict[str, Any]:
    rule = platform.store.get_alert_rule(tenant, rule_id)
    return _view(platform, rule, _state_of(platform, rule))


def update_rule(
    platform: Platform, principal: Principal, rule_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change fields of a rule (``targets`` replaces the list); a changed condition is evaluated
    afresh at the next round, and a disabled rule goes back to ok."""
    current = platform.store.get_alert_rule(principal.tenant, rule_id)
    cleared = sorted(k for k, v in changes.items() if v is None and k not in _NULLABLE)
    if cleared:
        raise InvalidInput(
            f"alert rule field {cleared[0]!r} cannot be null (leave it out to keep its value)",
            errors=[{"loc": ["body", k], "msg": "cannot be null"} for k in cleared],
        )
    fields = {k: v for k, v in changes.items() if k in FIELDS}
    spec = {**{k: getattr(current, k) for k in FIELDS}, **fields}
    targets = list(changes["targets"] or []) if "targets" in changes else None
    moved = "model" in fields or "version" in fields
    _check(platform, principal.tenant, spec, targets or [], check_model=moved)
    if targets is not None:
        fields["target_hosts"] = _hosts(platform, targets)
        fields["sealed_targets"] = seal_targets(platform, principal.tenant, rule_id, targets)
    try:
        stored = platform.store.update_alert_rule(principal.tenant, rule_id, fields)
    except Conflict:
        raise _taken(spec["name"]) from None
    changed = sorted(k for k in changes if k in (*FIELDS, "targets"))
    audit.record(platform, principal, "alert.rule.update", rule_id, changed=changed)
    return _view(platform, stored, _state_of(platform, stored))


def rotate_secret(platform: Platform, principal: Principal, rule_id: str) -> dict[str, Any]:
    """Give a rule a new webhook secret; webhooks are signed with it from now on (shown once)."""
    platform.store.get_alert_rule(principal.tenant, rule_id)
    secret = new_webhook_secret()
    sealed = seal_secret(platform, principal.tenant, rule_id, secret)
    stored = platform.store.update_alert_rule(principal.tenant, rule_id, {"sealed_secret": sealed})
    audit.record(platform, principal, "alert.rule.rotate", rule_id)
    return {**_view(platform, stored, _state_of(platform, stored)), "secret": secret}


def delete_rule(platform: Platform, principal: Principal, rule_id: str) -> None:
    """Delete a rule, its state and its webhooks (those not yet sent are dropped)."""
    platform.store.delete_alert_rule(principal.tenant, rule_id)
    audit.record(platform, principal, "alert.rule.delete", rule_id)


def test_rule(platform: Platform, principal: Principal, rule_id: str) -> list[dict[str, Any]]:
    """Queue a ``test`` webhook to each target of a rule, with its current state and last value;
    the state does not change. 409 for a rule without targets."""
    rule = platform.store.get_alert_rule(principal.tenant, rule_id)
    if not rule.target_hosts:
        raise Conflict(f"alert rule {rule.name!r} has no webhook target to test; add one with targets")
    state = _state_of(platform, rule)
    now = datetime.now(UTC)
    queued = notifications(platform, rule, "test", state.state, state.value, state.version, now)
    stored = platform.store.queue_alert_deliveries(principal.tenant, rule_id, queued)
    audit.record(platform, principal, "alert.rule.test", rule_id, webhooks=len(stored))
    return [delivery_view(d) for d in stored]


# -- states, deliveries, Prometheus -------------------------------------------------------------


def states(platform: Platform, tenant: str, model: str | None = None) -> list[dict[str, Any]]:
    return [state_view(rule, state) for rule, state in platform.store.list_alert_states(tenant, model)]


def deliveries(platform: Platform, tenant: str, rule_id: str, limit: int = 100) -> list[dict[str, Any]]:
    return [delivery_view(d) for d in platform.store.list_alert_deliveries(tenant, rule_id, limit)]


def prometheus_rules(platform: Platform, tenant: str) -> str:
    """The tenant's enabled rules as a Prometheus alerting-rules file (YAML)."""
    return prometheus.rules_file(tenant, platform.store.list_alert_rules(tenant))


def signal_gauges(platform: Platform, tenant: str | None) -> tuple[GaugeSample, ...]:
    """The monitored signals' last values as gauges, of one tenant or (None) all: those evaluated
    within three evaluation intervals (five minutes at least)."""
    fresh = max(300.0, 3 * platform.settings.alert_eval_interval_s)
    rows = platform.store.list_alert_states(tenant)
    return prometheus.gauges(rows, datetime.now(UTC), fresh)


# -- checks and views ---------------------------------------------------------------------------


def _check(
    platform: Platform, tenant: str, spec: dict[str, Any], targets: list[str], check_model: bool = True
) -> None:
    rules.check(spec)
    if check_model:
        where = "version" if spec["version"] is not None else "model"
        try:
            model = platform.store.get_model(tenant, spec["model"])
            if spec["version"] is not None:
                platform.store.get_version(tenant, model.name, spec["version"])
        except NotFound as exc:
            raise InvalidInput(exc.detail, errors=[{"loc": ["body", where], "msg": exc.detail}]) from None
    if len(targets) > rules.MAX_TARGETS:
        raise InvalidInput(
            f"a rule has at most {rules.MAX_TARGETS} webhook targets",
            errors=[{"loc": ["body", "targets"], "msg": "too many targets"}],
        )
    if len(set(targets)) != len(targets):
        raise InvalidInput(
            "a webhook target is listed twice",
            errors=[{"loc": ["body", "targets"], "msg": "duplicate target"}],
        )


def _hosts(platform: Platform, targets: list[str]) -> tuple[str, ...]:
    """Each target checked against the operator's policy (422 naming the target), as host:port."""
    policy = policy_of(platform)
    hosts = []
    for i, url in enumerate(targets):
        try:
            hosts.append(policy.check(url).display)
        except TargetNotAllowed as exc:
            where = [{"loc": ["body", "targets", i], "msg": exc.detail}]
            raise TargetNotAllowed(exc.detail, errors=where) from None
    return tuple(hosts)


def _taken(name: str) -> Conflict:
    return Conflict(
        f"an alert rule named {name!r} already exists in this tenant",
        errors=[{"loc": ["body", "name"], "msg": "name taken"}],
    )


def _state_of(platform: Platform, rule: AlertRule) -> AlertState:
    found = platform.store.list_alert_states(rule.tenant, rule_id=rule.id)
    if not found:
        raise NotFound(f"alert rule {rule.id!r} not found")
    return found[0][1]


def _view(platform: Platform, rule: AlertRule, state: AlertState) -> dict[str, Any]:
    return {
        "id": rule.id,
        **{k: getattr(rule, k) for k in FIELDS},
        "targets": open_targets(platform, rule),
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
        "state": state_view(rule, state),
    }


def state_view(rule: AlertRule, state: AlertState) -> dict[str, Any]:
    return {
        "rule_id": rule.id,
        "rule": rule.name,
        "model": rule.model,
        "severity": rule.severity,
        "enabled": rule.enabled,
        "state": state.state,
        "since": state.since,
        "value": state.value,
        "version": state.version,
        "note": state.note,
        "evaluated_at": state.evaluated_at,
    }


def delivery_view(d: AlertDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "rule_id": d.rule_id,
        "event": d.event,
        "target": d.target_host,
        "status": d.status,
        "attempts": d.attempts,
        "max_attempts": d.max_attempts,
        "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
        "created_at": d.created_at,
        "finished_at": d.finished_at,
        "log": list(d.log),
        "message": d.payload.get("message"),
    }

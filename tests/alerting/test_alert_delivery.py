"""Webhooks against a real HTTP receiver on 127.0.0.1: signed, retried after a 5xx, audited, never
redirected, and refused when the target is (or resolves) outside what the operator allows."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alert_fixtures import ADMIN, DRIFT_RULE, Fixed, Make, add_model, alert_settings
from shopfloor.alerting.delivery import Deliverer, backoff
from shopfloor.alerting.evaluator import Evaluator
from shopfloor.alerting.signals import SignalRegistry
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.errors import TargetNotAllowed
from shopfloor.security.egress import EgressPolicy, IPAddress
from shopfloor.security.signatures import verify_webhook
from shopfloor.services import alerts
from webhook_receiver import Receiver


def audit_actions(platform: Platform) -> list[tuple[str, str]]:
    events = platform.store.list_audit("default")
    ordered = sorted(events, key=lambda e: e.id or 0)
    return [(e.action, e.outcome) for e in ordered if e.action.startswith("alert.")]


def deliver_until_done(platform: Platform, deliverer: Deliverer, rule_id: str, rounds: int = 10) -> None:
    """Attempt due deliveries, jumping the clock past each backoff, until none is pending."""
    now = datetime.now(UTC)
    for _ in range(rounds):
        deliverer.deliver_due(now)
        if all(d.status != "pending" for d in platform.store.list_alert_deliveries("default", rule_id)):
            return
        now += timedelta(seconds=1)
    raise AssertionError("deliveries still pending")


def test_a_firing_rule_sends_a_signed_webhook_and_audits_it(
    platform: Platform, receiver: Receiver, make_rule: Make
) -> None:
    rule = make_rule(targets=[receiver.url("/hooks/T0K3N")], for_s=0, severity="critical")
    signals = SignalRegistry()
    signals.register("drift_score", Fixed(0.42))
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert Evaluator(platform, signals).evaluate_due(now) == [(rule["id"], "firing")]
    assert Deliverer(platform).deliver_due(now) == 1
    (got,) = receiver.received
    assert got.path == "/hooks/T0K3N"
    assert verify_webhook(rule["secret"], got.body, got.headers["shopfloor-signature"])
    assert not verify_webhook(rule["secret"], got.body + b" ", got.headers["shopfloor-signature"])
    body = json.loads(got.body)
    assert body["id"] == got.headers["shopfloor-delivery"] and got.headers["shopfloor-event"] == "firing"
    assert (body["event"], body["state"], body["model"], body["version"]) == ("firing", "firing", "press", 1)
    condition = (body["signal"], body["value"], body["comparison"], body["bound"])
    assert condition == ("drift_score", 0.42, ">", 0.3)
    assert body["rule"] == {"id": rule["id"], "name": "press-drift", "severity": "critical"}
    assert "largest drift score of model 'press' version 1 is 0.42" in body["message"]
    (delivery,) = platform.store.list_alert_deliveries("default", rule["id"])
    assert (delivery.status, delivery.attempts, delivery.log[0]["status"]) == ("delivered", 1, 200)
    assert audit_actions(platform) == [
        ("alert.rule.create", "ok"),
        ("alert.firing", "ok"),
        ("alert.webhook.attempt", "ok"),
        ("alert.webhook", "ok"),
    ]
    # The audit log names the host, never the URL (its path holds the receiver's token).
    assert "T0K3N" not in json.dumps([e.detail for e in platform.store.list_audit("default")])


def test_a_500_is_retried_with_backoff_then_delivered(
    platform: Platform, receiver: Receiver, make_rule: Make
) -> None:
    rule = make_rule(targets=[receiver.url()])
    receiver.answer(500, (429, {"Retry-After": "0"}))
    (queued,) = alerts.test_rule(platform, ADMIN, rule["id"])
    deliver_until_done(platform, Deliverer(platform), rule["id"])
    assert len(receiver.received) == 3
    got = receiver.received
    assert len({r.headers["shopfloor-delivery"] for r in got}) == 1 == len({r.body for r in got})
    assert all(verify_webhook(rule["secret"], r.body, r.headers["shopfloor-signature"]) for r in got)
    (delivery,) = platform.store.list_alert_deliveries("default", rule["id"])
    assert delivery.id == queued["id"] and delivery.status == "delivered" and delivery.attempts == 3
    assert [e["status"] for e in delivery.log] == [500, 429, 200]
    assert delivery.log[0]["retry_in_s"] is not None and delivery.log[2]["retry_in_s"] is None
    assert audit_actions(platform)[-4:] == [
        ("alert.webhook.attempt", "error"),
        ("alert.webhook.attempt", "error"),
        ("alert.webhook.attempt", "ok"),
        ("alert.webhook", "ok"),
    ]
    assert json.loads(receiver.received[0].body)["event"] == "test"


def test_attempts_run_out(platform: Platform, receiver: Receiver, make_rule: Make) -> None:
    rule = make_rule(targets=[receiver.url()])
    receiver.answer(503, 503, 503, 503)
    alerts.test_rule(platform, ADMIN, rule["id"])
    deliver_until_done(platform, Deliverer(platform), rule["id"])
    (delivery,) = platform.store.list_alert_deliveries("default", rule["id"])
    assert (delivery.status, delivery.attempts, len(receiver.received)) == ("failed", 3, 3)
    final = [e for e in platform.store.list_audit("default") if e.action == "alert.webhook"]
    assert [(e.outcome, e.detail["result"], e.detail["attempts"]) for e in final] == [("error", "failed", 3)]


def test_a_redirect_is_not_followed(platform: Platform, receiver: Receiver, make_rule: Make) -> None:
    rule = make_rule(targets=[receiver.url()])
    receiver.answer((302, {"Location": receiver.url("/elsewhere")}))
    alerts.test_rule(platform, ADMIN, rule["id"])
    Deliverer(platform).deliver_due()
    assert [r.path for r in receiver.received] == ["/hook"]
    (delivery,) = platform.store.list_alert_deliveries("default", rule["id"])
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "redirects are not followed" in delivery.log[0]["error"]


def test_a_refused_connection_is_retried(platform: Platform, make_rule: Make) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rule = make_rule(targets=[f"http://127.0.0.1:{port}/hook"])
    alerts.test_rule(platform, ADMIN, rule["id"])
    Deliverer(platform).deliver_due()
    (delivery,) = platform.store.list_alert_deliveries("default", rule["id"])
    assert delivery.status == "pending" and delivery.log[0]["error"].startswith("cannot connect")


def test_targets_outside_the_policy_are_refused_at_creation(platform: Platform, make_rule: Make) -> None:
    with pytest.raises(TargetNotAllowed) as caught:
        make_rule(targets=["http://10.9.9.9/hook"])
    assert caught.value.errors[0]["loc"] == ["body", "targets", 0]
    assert platform.store.list_alert_rules("default") == []


@pytest.fixture()
def named(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A platform allowing the host name ``hooks.test`` (and 127.0.0.1/32)."""
    found = prepare(alert_settings(tmp_path / "named", webhook_allowed_hosts=["hooks.test"]))
    add_model(found)
    yield found
    found.close()


def resolving_to(address: str) -> EgressPolicy:
    def resolve(host: str, port: int) -> list[IPAddress]:
        assert host == "hooks.test"
        return [ipaddress.ip_address(address)]

    return EgressPolicy(["hooks.test"], [ipaddress.ip_network("127.0.0.1/32")], resolve)


def test_the_resolved_address_is_checked_and_used_at_delivery(named: Platform, receiver: Receiver) -> None:
    target = f"http://hooks.test:{receiver.port}/hook"
    rule = alerts.create_rule(named, ADMIN, {**DRIFT_RULE, "targets": [target]})
    alerts.test_rule(named, ADMIN, rule["id"])
    # The name now resolves to a link-local address (a metadata endpoint): refused, nothing sent.
    Deliverer(named, resolving_to("169.254.169.254")).deliver_due()
    (refused,) = named.store.list_alert_deliveries("default", rule["id"])
    assert refused.status == "failed" and "link-local" in refused.log[0]["error"]
    assert receiver.received == []
    # Resolving to an allowed address, the call goes to that address with the name as Host.
    alerts.test_rule(named, ADMIN, rule["id"])
    Deliverer(named, resolving_to("127.0.0.1")).deliver_due()
    (got,) = receiver.received
    assert got.headers["host"] == f"hooks.test:{receiver.port}"


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    settings = alert_settings(Path("/nonexistent"), webhook_backoff_s=1.0, webhook_backoff_max_s=10.0)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 10.0), (9, 10.0)):
        waits = [backoff(attempt, settings) for _ in range(50)]
        assert all(base / 2 <= w <= base for w in waits) and len(set(waits)) > 1
    assert backoff(1, settings, retry_after_s=7.0) == 7.0
    assert backoff(1, settings, retry_after_s=3600.0) == 10.0

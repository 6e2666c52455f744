"""Alerts on the real server with two API workers: a test webhook arrives once, signed with the
rule's secret, and the workers' background task evaluates the rule (here no part provides the
signal yet, and its state says so)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopfloor import Client
from shopfloor.client_alerts import verify_webhook
from shopfloor.registry.sql import SqlStore
from webhook_receiver import Receiver, webhook_receiver

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def test_two_workers_deliver_a_test_webhook_once(tmp_path: Path, receiver: Receiver) -> None:
    env = {
        "SHOPFLOOR_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        "SHOPFLOOR_ALERT_EVAL_INTERVAL_S": "0.3",
        "SHOPFLOOR_ALERT_DELIVERY_POLL_S": "0.1",
    }
    server = Server(tmp_path / "home", workers=2, role="api", **env).start()
    try:
        store = SqlStore(f"sqlite:///{tmp_path / 'home' / 'registry.db'}")
        store.add_version(
            tenant="default", model="press", task="tabular_classification", report={}, input_schema=[],
            files={}, artifact="default/models/press/x", lineage={}, job_id=None,
        )  # fmt: skip
        store.close()
        key = server.admin_key()
        assert key
        with Client(server.url, key) as client:
            target = [receiver.url()]
            rule = client.create_alert_rule("press-drift", "press", "drift_score", ">", 0.3, targets=target)
            client.test_alert_rule(rule["id"])
            deadline = time.monotonic() + 20
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # a second delivery, if both workers sent it, would be here by now
            assert len(receiver.received) == 1
            got = receiver.received[0]
            assert verify_webhook(rule["secret"], got.body, got.headers["shopfloor-signature"])
            assert json.loads(got.body)["event"] == "test"
            (delivery,) = client.alert_deliveries(rule["id"])
            assert delivery["status"] == "delivered" and delivery["attempts"] == 1
            state = client.alert_states()[0]
            assert state["evaluated_at"] is not None
            assert state["note"].startswith("no drift_score")  # nothing logged in the window yet
            assert "alert: press-drift" in client.prometheus_rules()
    finally:
        server.stop()

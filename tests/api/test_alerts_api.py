"""Alert rules through the API: create (secret once), change, delete; refused targets; tenant
isolation; the server's own background task evaluating, firing and delivering to a local receiver;
the gauges on /metrics and the Prometheus rules file that uses them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from alert_fixtures import DRIFT_RULE, Fixed, add_model, wait_for
from conftest import Api
from shopfloor.security.signatures import verify_webhook
from shopfloor.services import alerts
from webhook_receiver import Receiver


def test_a_rule_is_created_shown_changed_and_deleted(alert_api: Api, receiver: Receiver) -> None:
    api, h = alert_api, alert_api.headers("builder")
    made = api.client.post("/v1/alerts/rules", json={**DRIFT_RULE, "targets": [receiver.url()]}, headers=h)
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["secret"].startswith("whsec_") and rule["targets"] == [receiver.url()]
    assert (rule["window_s"], rule["for_s"], rule["severity"], rule["enabled"]) == (900, 0, "warning", True)
    assert rule["state"]["state"] == "ok"
    shown = api.client.get(f"/v1/alerts/rules/{rule['id']}", headers=h).json()
    assert "secret" not in shown and shown["targets"] == [receiver.url()]
    listed = api.client.get("/v1/alerts/rules?model=press", headers=h).json()["items"]
    assert [r["id"] for r in listed] == [rule["id"]] and "secret" not in listed[0]
    assert api.client.get("/v1/alerts/rules?model=other", headers=h).json()["items"] == []

    change = {"bound": 0.5, "severity": "critical", "targets": []}
    changed = api.client.patch(f"/v1/alerts/rules/{rule['id']}", json=change, headers=h)
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in change} == change
    nulled = api.client.patch(f"/v1/alerts/rules/{rule['id']}", json={"bound": None}, headers=h)
    assert nulled.status_code == 422 and nulled.json()["errors"][0]["loc"] == ["body", "bound"]
    rotated = api.client.post(f"/v1/alerts/rules/{rule['id']}/secret", headers=h).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != rule["secret"]

    assert api.client.delete(f"/v1/alerts/rules/{rule['id']}", headers=h).status_code == 204
    assert api.client.get(f"/v1/alerts/rules/{rule['id']}", headers=h).status_code == 404
    actions = [e["action"] for e in api.client.get("/v1/audit", headers=api.headers()).json()["items"]]
    for action in ("alert.rule.create", "alert.rule.update", "alert.rule.rotate", "alert.rule.delete"):
        assert action in actions


@pytest.mark.parametrize(
    ("changes", "where", "status"),
    [
        ({"model": "nope"}, ["body", "model"], 422),
        ({"version": 7}, ["body", "version"], 422),
        ({"signal": "estimated_metric"}, ["body", "metric"], 422),
        ({"signal": "error_rate", "bound": 2}, ["body", "bound"], 422),
        ({"window_s": 10}, ["body", "window_s"], 422),
        ({"comparison": "=="}, ["body", "comparison"], 422),
        ({"targets": ["http://10.9.9.9/hook"]}, ["body", "targets", 0], 422),
        ({"targets": ["file:///etc/passwd"]}, ["body", "targets", 0], 422),
        ({"unknown": 1}, ["body", "unknown"], 422),
    ],
)
def test_bad_rules_are_refused_where_they_are_wrong(
    alert_api: Api, changes: dict[str, Any], where: list[Any], status: int
) -> None:
    body = {**DRIFT_RULE, **changes}
    answer = alert_api.client.post("/v1/alerts/rules", json=body, headers=alert_api.headers())
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert where in [e["loc"] for e in answer.json()["errors"]]
    assert alerts.list_rules(alert_api.platform, "default") == []


def test_a_name_is_taken_once_per_tenant(alert_api: Api) -> None:
    first = alert_api.client.post("/v1/alerts/rules", json=DRIFT_RULE, headers=alert_api.headers())
    assert first.status_code == 201
    again = alert_api.client.post("/v1/alerts/rules", json=DRIFT_RULE, headers=alert_api.headers())
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    other = alert_api.client.post("/v1/alerts/rules", json=DRIFT_RULE, headers=alert_api.headers("other"))
    assert other.status_code == 201


def test_webhooks_are_refused_where_the_operator_allows_none(api: Api) -> None:
    add_model(api.platform)
    body = {**DRIFT_RULE, "targets": ["https://hooks.example.com/x"]}
    refused = api.client.post("/v1/alerts/rules", json=body, headers=api.headers())
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith("target-not-allowed")
    assert "SHOPFLOOR_WEBHOOK_ALLOWED_HOSTS" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "targets", 0]
    # Without targets a rule is still useful: its state, and Prometheus.
    assert api.client.post("/v1/alerts/rules", json=DRIFT_RULE, headers=api.headers()).status_code == 201
    rule = api.client.get("/v1/alerts/rules", headers=api.headers()).json()["items"][0]
    tested = api.client.post(f"/v1/alerts/rules/{rule['id']}/test", headers=api.headers())
    assert tested.status_code == 409 and "no webhook target" in tested.json()["detail"]


def test_another_tenant_sees_none_of_it(alert_api: Api, receiver: Receiver) -> None:
    api = alert_api
    rule = api.client.post(
        "/v1/alerts/rules", json={**DRIFT_RULE, "targets": [receiver.url()]}, headers=api.headers()
    ).json()
    other = api.headers("other")
    for method, path in [
        ("GET", f"/v1/alerts/rules/{rule['id']}"),
        ("PATCH", f"/v1/alerts/rules/{rule['id']}"),
        ("DELETE", f"/v1/alerts/rules/{rule['id']}"),
        ("POST", f"/v1/alerts/rules/{rule['id']}/test"),
        ("POST", f"/v1/alerts/rules/{rule['id']}/secret"),
        ("GET", f"/v1/alerts/rules/{rule['id']}/deliveries"),
    ]:
        body = {"bound": 1} if method == "PATCH" else None
        answer = api.client.request(method, path, headers=other, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert api.client.get("/v1/alerts/rules", headers=other).json()["items"] == []
    assert api.client.get("/v1/alerts/states", headers=other).json()["items"] == []
    assert rule["id"] not in api.client.get("/v1/alerts/prometheus-rules", headers=other).text
    assert receiver.received == []


def test_the_server_evaluates_fires_and_delivers_by_itself(alert_api: Api, receiver: Receiver) -> None:
    api = alert_api
    source = Fixed(0.72)
    alerts.register_signal(api.platform, "drift_score", source)
    body = {**DRIFT_RULE, "input": "temperature", "targets": [receiver.url()]}
    rule = api.client.post("/v1/alerts/rules", json=body, headers=api.headers()).json()
    wait_for(lambda: receiver.received)
    got = receiver.received[0]
    assert verify_webhook(rule["secret"], got.body, got.headers["shopfloor-signature"])
    assert source.queries[0].input == "temperature" and source.queries[0].version == 1
    state = api.client.get("/v1/alerts/states", headers=api.headers()).json()["items"][0]
    assert (state["state"], state["value"], state["version"]) == ("firing", 0.72, 1)
    path = f"/v1/alerts/rules/{rule['id']}/deliveries"

    def delivered() -> list[dict[str, Any]]:
        items = api.client.get(path, headers=api.headers()).json()["items"]
        return [d for d in items if d["status"] == "delivered"]

    deliveries = wait_for(delivered)
    assert deliveries[0]["event"] == "firing" and deliveries[0]["target"] == f"127.0.0.1:{receiver.port}"
    assert deliveries[0]["log"][0]["status"] == 200
    audit = api.client.get("/v1/audit?action=alert.webhook", headers=api.headers()).json()["items"]
    assert [(e["outcome"], e["detail"]["result"]) for e in audit] == [("ok", "delivered")]

    # A test webhook, queued by the API and sent by the same background task.
    tested = api.client.post(f"/v1/alerts/rules/{rule['id']}/test", headers=api.headers())
    assert tested.status_code == 202 and tested.json()["items"][0]["status"] == "pending"
    wait_for(lambda: len(receiver.received) == 2)
    assert b'"event":"test"' in receiver.received[1].body


def _series(text: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append({**sample.labels, "value": str(sample.value)})
    return found


def test_prometheus_gauges_and_rules_file(alert_api: Api) -> None:
    api = alert_api
    alerts.register_signal(api.platform, "drift_score", Fixed(0.72))
    for body in (
        {**DRIFT_RULE, "for_s": 300},
        {**DRIFT_RULE, "name": "press-drift-critical", "bound": 0.6, "severity": "critical"},
        {**DRIFT_RULE, "name": "temp", "input": "temperature", "window_s": 3600, "comparison": ">="},
        {**DRIFT_RULE, "name": "off", "enabled": False},
    ):
        assert api.client.post("/v1/alerts/rules", json=body, headers=api.headers()).status_code == 201
    wait_for(lambda: all(s["value"] == 0.72 for s in alerts.states(api.platform, "default") if s["enabled"]))

    exposed = _series(api.client.get("/metrics", headers=api.headers()).text)
    drift = exposed["shopfloor_model_drift_score"]
    # Two rules on one series (a warning and a critical bound) give one sample.
    assert sorted((s["input"], s["window"], s["version"], s["value"]) for s in drift) == [
        ("", "15m", "1", "0.72"),
        ("temperature", "1h", "1", "0.72"),
    ]
    theirs = api.client.get("/metrics", headers=api.headers("other")).text
    assert "shopfloor_model_drift_score" not in _series(theirs)

    answer = api.client.get("/v1/alerts/prometheus-rules", headers=api.headers("builder"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(answer.text)
    (group,) = document["groups"]
    assert group["name"] == "shopfloor-default"
    by_name = {r["alert"]: r for r in group["rules"]}
    assert set(by_name) == {"press-drift", "press-drift-critical", "temp"}  # the disabled rule is left out
    for entry in group["rules"]:
        assert set(entry) <= {"alert", "expr", "for", "labels", "annotations"}
        assert entry["labels"]["severity"] in ("info", "warning", "critical")
        assert set(entry["annotations"]) == {"summary", "description"}
    assert by_name["press-drift"]["for"] == "5m" and "for" not in by_name["temp"]
    assert by_name["press-drift"]["expr"] == (
        'max by (tenant, model, version) (shopfloor_model_drift_score{tenant="default",model="press",'
        'input="",window="15m"}) > 0.3'
    )
    assert by_name["temp"]["expr"].endswith(") >= 0.3")
    # Every expression selects a series the server exports.
    for entry in group["rules"]:
        name, _, selector = entry["expr"].split("(", 2)[2].partition("{")
        labels = dict(part.split("=", 1) for part in selector.split("}")[0].split(","))
        wanted = {k: v.strip('"') for k, v in labels.items()}
        assert any(all(s.get(k) == v for k, v in wanted.items()) for s in exposed[name]), entry["expr"]

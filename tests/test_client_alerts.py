"""The SDK's alert calls against httpx.MockTransport: request shapes and the errors they raise."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shopfloor import errors
from shopfloor.client import Client
from shopfloor.client_alerts import verify_webhook
from shopfloor.security.signatures import sign_webhook

URL = "http://shopfloor.test"
RULE = {"id": "alr_1", "name": "press-drift", "secret": "whsec_x"}


def client_for(seen: list[httpx.Request], answer: Any) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answer(request) if callable(answer) else httpx.Response(200, json=answer)

    return Client(URL, "sfk_test", transport=httpx.MockTransport(handler), retries=0)


def test_create_sends_the_rule_and_leaves_out_what_is_not_given() -> None:
    seen: list[httpx.Request] = []
    with client_for(seen, lambda r: httpx.Response(201, json=RULE)) as c:
        assert c.create_alert_rule("press-drift", "press", "drift_score", ">", 0.3, for_s=300) == RULE
        c.create_alert_rule("f1", "press", "realised_metric", "<", 0.8, metric="f1", targets=["https://h/x"])
    first, second = (json.loads(r.content) for r in seen)
    assert (seen[0].method, seen[0].url.path) == ("POST", "/v1/alerts/rules")
    assert first == {
        "name": "press-drift",
        "model": "press",
        "signal": "drift_score",
        "comparison": ">",
        "bound": 0.3,
        "window_s": 900,
        "for_s": 300,
        "severity": "warning",
        "targets": [],
        "enabled": True,
    }
    assert second["metric"] == "f1" and second["targets"] == ["https://h/x"] and "input" not in second


def test_the_other_calls() -> None:
    seen: list[httpx.Request] = []
    with client_for(seen, {"items": [RULE]}) as c:
        assert c.list_alert_rules(model="press") == [RULE]
        c.alert_states()
        c.alert_deliveries("alr_1", limit=5)
        assert c.test_alert_rule("alr_1") == [RULE]
        c.update_alert_rule("alr_1", bound=0.5, version=None)
        c.rotate_alert_secret("alr_1")
        c.delete_alert_rule("alr_1")
    assert [(r.method, r.url.path, r.url.query.decode()) for r in seen] == [
        ("GET", "/v1/alerts/rules", "model=press"),
        ("GET", "/v1/alerts/states", ""),
        ("GET", "/v1/alerts/rules/alr_1/deliveries", "limit=5"),
        ("POST", "/v1/alerts/rules/alr_1/test", ""),
        ("PATCH", "/v1/alerts/rules/alr_1", ""),
        ("POST", "/v1/alerts/rules/alr_1/secret", ""),
        ("DELETE", "/v1/alerts/rules/alr_1", ""),
    ]
    assert json.loads(seen[4].content) == {"bound": 0.5, "version": None}


def test_the_rules_file_is_text() -> None:
    text = "groups:\n- name: shopfloor-default\n  rules: []\n"
    answer = httpx.Response(200, text=text, headers={"content-type": "application/yaml"})
    with client_for([], lambda r: answer) as c:
        assert c.prometheus_rules() == text


def test_a_refused_target_raises_target_not_allowed() -> None:
    body = {
        "type": "urn:shopfloor:problem:target-not-allowed",
        "title": "Webhook target not allowed",
        "status": 422,
        "detail": "webhooks are not enabled on this server",
        "errors": [{"loc": ["body", "targets", 0], "msg": "not allowed"}],
    }
    answer = httpx.Response(422, json=body, headers={"content-type": "application/problem+json"})
    with client_for([], lambda r: answer) as c, pytest.raises(errors.TargetNotAllowed) as caught:
        c.create_alert_rule("x", "press", "drift_score", ">", 0.3, targets=["https://h/x"])
    assert caught.value.errors[0]["loc"] == ["body", "targets", 0]


def test_receivers_verify_with_the_sdk() -> None:
    header = sign_webhook("whsec_x", b"{}", timestamp=1_700_000_000)
    assert verify_webhook("whsec_x", b"{}", header, now=1_700_000_000)

"""The console's alert pages and the prediction log's retention through create_app(): the rules with
their states, a new rule (its secret once), bad input shown at its field, edits as changes, enable,
disable, delete, rotate, a test webhook delivered to a local receiver, the Prometheus file; roles,
tenants, CSRF and user text as text (the real browser runs in tests/browser/test_alert_pages.py)."""

from __future__ import annotations

import html
import re
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from test_console import HTML, XSS, _browser, _post, _token

from alert_fixtures import ADMIN, DRIFT_RULE, Fixed, add_model, wait_for
from conftest import Api
from shopfloor.console import alerts as pages
from shopfloor.registry.entities import AuditEvent
from shopfloor.schemas.alerts import Signal
from shopfloor.services import alerts, audit
from webhook_receiver import Receiver

#: A new rule's form as a person fills it in (text fields, one webhook URL a line).
FORM = {
    "name": "press-drift",
    "model": "press",
    "version": "",
    "signal": "drift_score",
    "input": "",
    "metric": "",
    "comparison": ">",
    "bound": "0.3",
    "window_s": "900",
    "for_s": "0",
    "severity": "warning",
    "targets": "",
    "enabled": "true",
}


def _create(client: TestClient, **changes: str) -> Any:
    return _post(client, "/alerts/new", "/alerts", {**FORM, **changes})


def _rule(api: Api, **changes: Any) -> dict[str, Any]:
    """A rule of tenant default made through the API (its view with the secret)."""
    answer = api.client.post("/v1/alerts/rules", json={**DRIFT_RULE, **changes}, headers=api.headers())
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _audit(api: Api) -> list[AuditEvent]:
    """Tenant default's audit log, newest first (the buffered events written first)."""
    audit.flush(api.platform, everything=True)
    return api.platform.store.list_audit("default", limit=200)


def test_every_signal_has_its_words_in_the_form() -> None:
    assert [v for v, _ in pages.CHOICES["signal"][1:]] == list(get_args(Signal))


@pytest.mark.parametrize("bound", [0.3, 5.0, -2.0, 1234567.0, 1234567.891, 1e-9, 1e20, 0.1 + 0.2])
def test_a_bound_is_shown_as_text_that_reads_back_as_the_same_number(bound: float) -> None:
    assert float(pages.exact(bound)) == bound
    assert pages.exact(5.0) == "5" and pages.exact(0.3) == "0.3"


def test_the_list_shows_each_rule_with_its_state_since_when_and_a_link(alert_api: Api) -> None:
    api = alert_api
    alerts.register_signal(api.platform, "error_rate", Fixed(0.9))
    quiet = _rule(api)  # drift: nothing logged, no value
    loud = _rule(api, name="press-errors", signal="error_rate", bound=0.5, severity="critical")
    wait_for(lambda: alerts.get_rule(api.platform, "default", loud["id"])["state"]["state"] == "firing")
    builder = _browser(api, "builder")
    assert 'href="/alerts"' in builder.get("/", headers=HTML).text  # in the menu
    listed = builder.get("/alerts", headers=HTML)
    assert listed.status_code == 200
    text = listed.text
    for rule in (quiet, loud):
        assert f'href="/alerts/{rule["id"]}"' in text
    rows = {r["rule"]: r for r in alerts.states(api.platform, "default")}  # the API's states
    row = re.search(r"press-errors</a>.*?</tr>", text, re.S)
    assert row and ">firing<" in row.group(0) and "critical" in row.group(0)
    assert rows["press-errors"]["since"].strftime("%Y-%m-%d %H:%M:%S") in row.group(0)
    assert "error_rate &gt; 0.5 over 15m" in row.group(0)
    quiet_row = re.search(r"press-drift</a>.*?</tr>", text, re.S)
    assert quiet_row and ">no data<" in quiet_row.group(0) and "drift_score &gt; 0.3" in quiet_row.group(0)
    assert 'href="/alerts/new"' in text and 'href="/alerts/prometheus-rules.yml"' in text


def test_a_new_rule_is_made_by_the_form_and_its_secret_shown_once(alert_api: Api, receiver: Receiver) -> None:
    api, builder = alert_api, _browser(alert_api, "builder")
    form = builder.get("/alerts/new", headers=HTML)
    assert form.status_code == 200
    for field in ("name", "model", "version", "signal", "input", "metric", "comparison", "bound"):
        assert f'<label for="{field}">' in form.text and f'id="{field}"' in form.text
    assert '<option value="press">press</option>' in form.text
    made = _create(builder, input="temperature", for_s="300", severity="critical", targets=receiver.url())
    assert made.status_code == 201, made.text
    (rule,) = alerts.list_rules(api.platform, "default")
    assert (rule["input"], rule["for_s"], rule["severity"], rule["targets"]) == (
        "temperature",
        300,
        "critical",
        [receiver.url()],
    )
    secret = re.search(r'id="secret" value="(whsec_[^"]+)"', made.text)
    assert secret and "only time" in made.text
    again = builder.get(f"/alerts/{rule['id']}", headers=HTML).text
    assert secret.group(1) not in again and 'id="secret"' not in again
    assert "alert.rule.create" in [e.action for e in _audit(api)]
    off = _create(builder, name="off", enabled="")  # the box left unticked
    enabled = {r["name"]: r["enabled"] for r in alerts.list_rules(api.platform, "default")}
    assert off.status_code == 201 and enabled == {"press-drift": True, "off": False}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"bound": "high"}, "bound", "valid number"),
        ({"bound": ""}, "bound", "Field required"),
        ({"name": "no spaces"}, "name", "pattern"),
        ({"window_s": "10"}, "window_s", "greater than or equal to 60"),
        ({"signal": "estimated_metric"}, "metric", "needs a metric name"),
        ({"signal": "error_rate", "bound": "2"}, "bound", "share between 0 and 1"),
        ({"input": "temperature", "signal": "error_rate"}, "input", "only drift_score"),
        ({"model": "nope"}, "model", "not found"),
        ({"version": "7"}, "version", "has no version 7"),
        ({"comparison": "=="}, "comparison", "'>', '>=', '<' or '<='"),
        ({"targets": "http://10.9.9.9/hook"}, "targets", "not allowed"),
        ({"targets": "file:///etc/passwd"}, "targets", ""),
    ],
)
def test_bad_input_names_the_field_and_its_reason_and_creates_nothing(
    alert_api: Api, changes: dict[str, str], field: str, reason: str
) -> None:
    builder = _browser(alert_api, "builder")
    refused = _create(builder, **changes)
    assert refused.status_code == 422, refused.text
    text = html.unescape(refused.text)
    assert f'id="{field}-problem"' in text and f'id="{field}" ' in text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', text)
    assert reason in text
    assert alerts.list_rules(alert_api.platform, "default") == []
    for name, value in changes.items():  # what was sent stays in the form
        if name not in ("targets", "model", "comparison", "signal"):
            assert f'value="{value}"' in text


def test_a_webhook_the_operator_does_not_allow_is_refused_with_the_servers_reason(api: Api) -> None:
    add_model(api.platform)  # the usual settings: no webhook host allowed at all
    refused = _create(_browser(api, "admin"), targets="https://hooks.example.com/x")
    assert refused.status_code == 422
    assert "Webhook target not allowed" in refused.text and "SHOPFLOOR_WEBHOOK_ALLOWED_HOSTS" in refused.text
    assert alerts.list_rules(api.platform, "default") == []


def test_an_edit_changes_only_the_fields_changed_and_a_bad_one_nothing(alert_api: Api) -> None:
    api, builder = alert_api, _browser(alert_api, "builder")
    rule = _rule(api, input="temperature")
    page = f"/alerts/{rule['id']}"
    shown = builder.get(page, headers=HTML).text
    assert 'id="input" name="input" type="text" value="temperature"' in shown
    sent = {**FORM, "input": "temperature", "bound": "0.45", "severity": "critical"}
    del sent["enabled"]
    saved = _post(builder, page, page, sent)
    assert saved.status_code == 303 and saved.headers["location"] == f"{page}?done=saved"
    now = alerts.get_rule(api.platform, "default", rule["id"])
    assert (now["bound"], now["severity"], now["input"]) == (0.45, "critical", "temperature")
    update = [e for e in _audit(api) if e.action == "alert.rule.update"]
    assert update[0].detail["changed"] == ["bound", "severity"]
    assert "Saved" in builder.get(saved.headers["location"], headers=HTML).text
    same = _post(builder, page, page, {**sent, "bound": "0.45", "severity": "critical"})
    assert same.headers["location"] == f"{page}?done=unchanged"
    cleared = _post(builder, page, page, {**sent, "bound": "0.45", "severity": "critical", "input": ""})
    assert cleared.status_code == 303
    assert alerts.get_rule(api.platform, "default", rule["id"])["input"] is None
    for bad, field in [({"window_s": "5"}, "window_s"), ({"bound": ""}, "bound"), ({"model": "x"}, "model")]:
        refused = _post(builder, page, page, {**sent, **bad})
        assert refused.status_code == 422 and f'id="{field}-problem"' in refused.text, bad
        kept = alerts.get_rule(api.platform, "default", rule["id"])
        assert (kept["window_s"], kept["bound"], kept["model"]) == (900, 0.45, "press")


def test_disable_enable_rotate_and_delete(alert_api: Api) -> None:
    api, builder = alert_api, _browser(alert_api, "builder")
    rule = _rule(api)
    page = f"/alerts/{rule['id']}"
    off = _post(builder, page, f"{page}/enabled", {"enabled": "false"})
    assert off.headers["location"] == f"{page}?done=disabled"
    assert not alerts.get_rule(api.platform, "default", rule["id"])["enabled"]
    shown = builder.get(page, headers=HTML).text
    assert ">disabled<" in shown and ">Enable</button>" in shown
    assert _post(builder, page, f"{page}/enabled", {"enabled": "maybe"}).status_code == 422
    _post(builder, page, f"{page}/enabled", {"enabled": "true"})
    assert alerts.get_rule(api.platform, "default", rule["id"])["enabled"]

    rotated = _post(builder, page, f"{page}/secret")
    new = re.search(r'id="secret" value="(whsec_[^"]+)"', rotated.text)
    assert rotated.status_code == 200 and new and new.group(1) != rule["secret"]
    assert new.group(1) not in builder.get(page, headers=HTML).text

    assert 'data-confirm="Delete rule press-drift' in builder.get(page, headers=HTML).text
    gone = _post(builder, page, f"{page}/delete")
    assert gone.headers["location"] == "/alerts?done=deleted"
    assert alerts.list_rules(api.platform, "default") == []
    assert builder.get(page, headers=HTML).status_code == 404
    actions = [e.action for e in _audit(api)]
    assert {"alert.rule.rotate", "alert.rule.delete"} <= set(actions)


def test_a_test_webhook_reaches_the_receiver_and_its_delivery_is_listed(
    alert_api: Api, receiver: Receiver
) -> None:
    api, builder = alert_api, _browser(alert_api, "builder")
    receiver.answer(503)  # the first attempt fails, the second is delivered
    rule = _rule(api, targets=[receiver.url()])
    page = f"/alerts/{rule['id']}"
    sent = _post(builder, page, f"{page}/test")
    assert sent.status_code == 303 and sent.headers["location"] == f"{page}?done=tested"
    wait_for(lambda: alerts.deliveries(api.platform, "default", rule["id"])[0]["status"] == "delivered")
    assert b'"event":"test"' in receiver.received[-1].body
    shown = builder.get(page, headers=HTML).text
    row = re.search(r"<td>test</td>.*?</tr>", shown, re.S)
    assert row and f"127.0.0.1:{receiver.port}" in row.group(0) and ">delivered<" in row.group(0)
    assert "HTTP 503" in row.group(0) and "HTTP 200" in row.group(0) and "2 of 3" in row.group(0)

    bare = _rule(api, name="no-hooks")
    refused = _post(builder, f"/alerts/{bare['id']}", f"/alerts/{bare['id']}/test")
    assert refused.status_code == 409 and "no webhook target" in refused.text


def test_deliveries_are_paged_newest_first(alert_api: Api) -> None:
    api, builder = alert_api, _browser(alert_api, "builder")
    # a target nobody listens on: deliveries queue up (and fail); only their listing matters here
    rule = _rule(api, targets=["http://127.0.0.1:9/hook"])
    made = [alerts.test_rule(api.platform, ADMIN, rule["id"])[0]["id"] for _ in range(23)]
    first = builder.get(f"/alerts/{rule['id']}", headers=HTML).text
    assert first.count("<td>test</td>") == 20 and 'rel="next"' in first and 'rel="prev"' not in first
    second = builder.get(f"/alerts/{rule['id']}?page=2", headers=HTML).text
    assert second.count("<td>test</td>") == 3 and 'rel="prev"' in second and 'rel="next"' not in second
    assert len(set(made)) == 23


def test_the_prometheus_rules_file_is_the_apis(alert_api: Api) -> None:
    api = alert_api
    _rule(api)
    answer = _browser(api, "builder").get("/alerts/prometheus-rules.yml")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/yaml")
    assert "attachment" in answer.headers["content-disposition"]
    same = api.client.get("/v1/alerts/prometheus-rules", headers=api.headers()).text
    assert answer.text == same and "press-drift" in answer.text


def test_consumers_neither_see_nor_change_rules(alert_api: Api) -> None:
    api = alert_api
    rule = _rule(api)
    consumer = _browser(api, "consumer")
    assert 'href="/alerts"' not in consumer.get("/", headers=HTML).text
    for path in ("/alerts", "/alerts/new", f"/alerts/{rule['id']}", "/alerts/prometheus-rules.yml"):
        assert consumer.get(path, headers=HTML).status_code == 403, path
    token = _token(consumer.get("/", headers=HTML).text)
    for action, data in (
        ("/alerts", {**FORM, "name": "mine"}),
        (f"/alerts/{rule['id']}", {"bound": "9"}),
        (f"/alerts/{rule['id']}/delete", {}),
        (f"/alerts/{rule['id']}/secret", {}),
        (f"/alerts/{rule['id']}/test", {}),
    ):
        answer = consumer.post(action, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code == 403, action
    assert [r["name"] for r in alerts.list_rules(api.platform, "default")] == ["press-drift"]
    assert alerts.get_rule(api.platform, "default", rule["id"])["bound"] == 0.3


def test_another_tenants_rule_is_not_found(alert_api: Api) -> None:
    api = alert_api
    rule = _rule(api)
    other = _browser(api, "other")
    assert rule["id"] not in other.get("/alerts", headers=HTML).text
    page = other.get(f"/alerts/{rule['id']}", headers=HTML)
    assert page.status_code == 404 and "press-drift" not in page.text
    token = _token(other.get("/alerts", headers=HTML).text)
    for action in ("", "/enabled", "/delete", "/secret", "/test"):
        data = {"csrf_token": token, **FORM, "enabled": "false"}
        answer = other.post(f"/alerts/{rule['id']}{action}", data=data, follow_redirects=False)
        assert answer.status_code == 404, action
    assert alerts.get_rule(api.platform, "default", rule["id"])["enabled"]
    assert "press-drift" not in other.get("/alerts/prometheus-rules.yml").text


def test_user_text_is_shown_as_text_and_forms_need_the_session_token(alert_api: Api) -> None:
    api, builder = alert_api, _browser(alert_api, "builder")
    made = _create(builder, input=XSS)
    assert made.status_code == 201 and XSS not in made.text and html.escape(XSS) in made.text
    refused = _create(builder, targets=XSS)
    assert refused.status_code == 422 and XSS not in refused.text
    for data in ({}, {"csrf_token": "0" * 64}):
        answer = builder.post("/alerts", data={**FORM, "name": "forged", **data}, follow_redirects=False)
        assert answer.status_code == 403
    assert [r["name"] for r in alerts.list_rules(api.platform, "default")] == ["press-drift"]


def test_the_prediction_log_retention_is_shown_and_set_by_admins(api: Api) -> None:
    admin = _browser(api, "admin")
    default = api.settings.prediction_log_retention_days
    shown = admin.get("/admin/quotas", headers=HTML).text
    assert "Prediction log retention" in shown and f"{default:,} days" in shown
    assert "the server default, as none is set" in shown
    saved = _post(admin, "/admin/quotas", "/admin/retention", {"days": "30"})
    assert saved.status_code == 200 and "30 days" in saved.text
    assert f"server default is {default:,} days" in saved.text
    got = api.client.get("/v1/prediction-log/retention", headers=api.headers()).json()
    assert (got["own"], got["retention_days"]) == (30, 30)
    for bad, reason in (
        ("0", "greater than or equal to 1"),
        ("5000", "less than or equal to 3650"),
        ("soon", "valid integer"),
    ):
        refused = _post(admin, "/admin/quotas", "/admin/retention", {"days": bad})
        assert refused.status_code == 422 and reason in refused.text and 'aria-invalid="true"' in refused.text
        assert api.client.get("/v1/prediction-log/retention", headers=api.headers()).json()["own"] == 30
    back = _post(admin, "/admin/quotas", "/admin/retention", {"days": ""})
    assert back.status_code == 200 and "as none is set" in back.text
    assert api.client.get("/v1/prediction-log/retention", headers=api.headers()).json()["own"] is None
    days = [e.detail.get("days") for e in _audit(api) if e.action == "prediction_log.retention"]
    assert sorted(days, key=lambda d: d or 0) == [None, 30]  # the refused ones recorded nothing
    builder = _browser(api, "builder")
    assert builder.get("/admin/quotas", headers=HTML).status_code == 403
    token = _token(builder.get("/", headers=HTML).text)
    assert builder.post("/admin/retention", data={"csrf_token": token, "days": "1"}).status_code == 403
    assert admin.post("/admin/retention", data={"days": "1"}).status_code == 403  # no token
    assert api.client.get("/v1/prediction-log/retention", headers=api.headers()).json()["own"] is None

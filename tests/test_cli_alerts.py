"""``shopfloor alerts`` with typer's CliRunner; the SDK client talks to an httpx.MockTransport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.client import Client

runner = CliRunner()
STATE = {"state": "firing", "since": "2026-12-01T08:00:00Z", "value": 0.42, "note": None}
RULE = {
    "id": "alr_1",
    "name": "press-drift",
    "model": "press",
    "version": None,
    "signal": "drift_score",
    "input": "temperature",
    "metric": None,
    "comparison": ">",
    "bound": 0.3,
    "window_s": 900,
    "for_s": 300,
    "severity": "warning",
    "enabled": True,
    "targets": ["https://hooks.plant.local/x"],
    "state": STATE,
}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        requests.append(request)
        path = request.url.path
        if path == "/v1/alerts/prometheus-rules":
            return httpx.Response(200, text="groups: []\n", headers={"content-type": "application/yaml"})
        if path == "/v1/alerts/rules" and request.method == "POST":
            return httpx.Response(201, json={**RULE, "secret": "whsec_shown_once"})
        if path.endswith("/test"):
            return httpx.Response(202, json={"items": [{"id": "adl_1", "target": "hooks.plant.local:443"}]})
        if path.endswith("/deliveries"):
            log = [{"attempt": 1, "status": 500, "error": "answered 500"}]
            item = {"id": "adl_1", "event": "test", "target": "h:443", "status": "pending", "attempts": 1}
            return httpx.Response(200, json={"items": [{**item, "max_attempts": 6, "log": log}]})
        if path == "/v1/alerts/states":
            return httpx.Response(200, json={"items": [{"rule": "press-drift", "model": "press", **STATE}]})
        if request.method == "DELETE":
            return httpx.Response(204)
        if path == "/v1/alerts/rules":
            return httpx.Response(200, json={"items": [RULE]})
        return httpx.Response(200, json=RULE)

    monkeypatch.setattr(cli_common, "out", Console(width=160, soft_wrap=False))  # tables unfolded
    client = lambda: Client("http://shopfloor.test", "sfk_t", transport=httpx.MockTransport(handler))  # noqa: E731
    monkeypatch.setattr(cli_common, "make_client", client)
    return requests


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_create_parses_the_condition_and_durations_and_prints_the_secret_last(
    seen: list[httpx.Request],
) -> None:
    args = ["alerts", "create", "press-drift", "--model", "press", "--signal", "drift_score"]
    more = ["--when", ">= 0.3", "--window", "1h", "--for", "5m", "--input", "t"]
    more += ["--target", "https://a/x", "--target", "https://b/y"]
    result = runner.invoke(app, [*args, *more])
    assert result.exit_code == 0, result.output
    sent = body(seen[0])
    assert (sent["comparison"], sent["bound"], sent["window_s"], sent["for_s"]) == (">=", 0.3, 3600, 300)
    assert sent["targets"] == ["https://a/x", "https://b/y"] and sent["input"] == "t" and "metric" not in sent
    assert result.stdout.strip().splitlines()[-1] == "whsec_shown_once"


@pytest.mark.parametrize(
    ("option", "value"),
    [("--when", "= 0.3"), ("--when", "> x"), ("--window", "15 minutes"), ("--for", "-5m")],
)
def test_bad_conditions_and_durations_are_refused_before_any_call(
    seen: list[httpx.Request], option: str, value: str
) -> None:
    args = ["alerts", "create", "r", "--model", "press", "--signal", "drift_score", "--when", "> 0.3"]
    result = runner.invoke(app, [*args, option, value])
    assert result.exit_code != 0 and seen == []
    assert option in result.output


def test_list_show_states_deliveries_and_the_rest(seen: list[httpx.Request]) -> None:
    listed = runner.invoke(app, ["alerts", "list", "--model", "press"])
    assert listed.exit_code == 0 and "press-drift" in listed.stdout and "firing" in listed.stdout
    shown = runner.invoke(app, ["alerts", "show", "alr_1", "--json"])
    assert json.loads(shown.stdout)["id"] == "alr_1"
    states = runner.invoke(app, ["alerts", "states"])
    assert "firing" in states.stdout and "0.42" in states.stdout
    deliveries = runner.invoke(app, ["alerts", "deliveries", "alr_1"])
    assert "1/6" in deliveries.stdout and "answered 500" in deliveries.stdout
    assert runner.invoke(app, ["alerts", "test", "alr_1"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "disable", "alr_1"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "delete", "alr_1"]).exit_code == 0
    rules = runner.invoke(app, ["alerts", "prometheus-rules"])
    assert rules.stdout == "groups: []\n"
    calls = [(r.method, r.url.path) for r in seen]
    assert calls == [
        ("GET", "/v1/alerts/rules"),
        ("GET", "/v1/alerts/rules/alr_1"),
        ("GET", "/v1/alerts/states"),
        ("GET", "/v1/alerts/rules/alr_1/deliveries"),
        ("POST", "/v1/alerts/rules/alr_1/test"),
        ("PATCH", "/v1/alerts/rules/alr_1"),
        ("DELETE", "/v1/alerts/rules/alr_1"),
        ("GET", "/v1/alerts/prometheus-rules"),
    ]
    assert body(seen[5]) == {"enabled": False}

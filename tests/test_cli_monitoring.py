"""``shopfloor monitoring log ...`` and ``shopfloor tenants retention`` with typer's CliRunner: the
SDK client talks to an httpx.MockTransport; the retention commands to a local home."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.client import Client

URL = "http://shopfloor.test"
runner = CliRunner()
PERFORMANCE = {
    "model": "m", "version": 1, "task": "tabular_classification", "kind": "label",
    "window": {"text": "5000", "count": 5000, "seconds": None},
    "metrics": ["f1", "pr_auc"], "lower_is_better": [],
    "baseline": {"f1": 0.81, "pr_auc": 0.86},
    "estimation": {"method": "cbpe", "available": True, "metrics": ["f1"], "reason": None},
    "windows": [
        {"start": "2026-01-01T00:00:00Z", "end": None, "predictions": 5000, "outcomes": 5000,
         "realised": {"f1": 0.79, "pr_auc": 0.84}, "estimated": {"f1": 0.8, "precision": 0.7}},
        {"start": "2026-01-01T01:00:00Z", "end": None, "predictions": 5000, "outcomes": 0,
         "realised": None, "estimated": {"f1": 0.62, "precision": 0.5}},
    ],
}


@pytest.fixture
def serve_api(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], list[httpx.Request]]:
    def install(handler: Any) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def recording(request: httpx.Request) -> httpx.Response:
            request.read()
            seen.append(request)
            return handler(request)

        transport = httpx.MockTransport(recording)
        monkeypatch.setattr(cli_common, "make_client", lambda: Client(URL, "sk_test", transport=transport))
        return seen

    return install


def test_set_rate(serve_api: Any) -> None:
    seen = serve_api(lambda r: httpx.Response(200, json={"model": "m", "rate": 0.1, "retention_days": 30}))
    result = runner.invoke(app, ["monitoring", "log", "set-rate", "m", "0.1"])
    assert result.exit_code == 0, result.output
    assert json.loads(seen[0].content) == {"rate": 0.1} and "retention_days" in result.output
    assert runner.invoke(app, ["monitoring", "log", "set-rate", "m", "1.5"]).exit_code != 0


def test_performance_table_shows_realised_estimated_and_baseline(serve_api: Any, tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/plot"):
            return httpx.Response(200, content=b"\x89PNG")
        return httpx.Response(200, json=PERFORMANCE)

    seen = serve_api(answer)
    plot = tmp_path / "live.png"
    args = ["--window", "5000", "--windows", "2", "--plot", str(plot)]
    result = runner.invoke(app, ["monitoring", "log", "performance", "m", *args])
    assert result.exit_code == 0, result.output
    assert dict(seen[0].url.params) == {"window": "5000", "windows": "2"}
    assert "training" in result.stdout and "0.81" in result.stdout and "0.62" in result.stdout
    assert plot.read_bytes() == b"\x89PNG"


def test_feedback_from_csv_keeps_numbers_and_labels(serve_api: Any, tmp_path: Path) -> None:
    seen = serve_api(
        lambda r: httpx.Response(200, json={"model": "m", "kind": "label", "accepted": 3, "records": []})
    )
    file = tmp_path / "outcomes.csv"
    file.write_text("request_id,index,record_id,outcome\nr1,0,,1\nr1,1,,scrap\n,,ab12cd34-0,true\n")
    result = runner.invoke(app, ["monitoring", "log", "feedback", "m", str(file)])
    assert result.exit_code == 0, result.output
    assert json.loads(seen[0].content)["items"] == [
        {"request_id": "r1", "index": 0, "outcome": 1},
        {"request_id": "r1", "index": 1, "outcome": "scrap"},
        {"record_id": "ab12cd34-0", "outcome": True},
    ]
    assert "3 outcome(s) stored" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("request_id,label\nr1,1\n")
    refused = runner.invoke(app, ["monitoring", "log", "feedback", "m", str(bad)])
    assert refused.exit_code == 1 and "no outcome column" in refused.stderr


def test_export_prints_json_lines_or_writes_a_file(serve_api: Any, tmp_path: Path) -> None:
    serve_api(lambda r: httpx.Response(200, content=b'{"record_id":"a-0"}\n'))
    result = runner.invoke(app, ["monitoring", "log", "export", "m", "--request-id", "r1"])
    assert result.exit_code == 0 and json.loads(result.stdout) == {"record_id": "a-0"}
    out = tmp_path / "log.csv"
    result = runner.invoke(app, ["monitoring", "log", "export", "m", "-o", str(out), "--format", "csv"])
    assert result.exit_code == 0 and out.exists()


def test_tenants_retention_set_and_show(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path))
    result = runner.invoke(app, ["tenants", "retention", "set", "plant-a", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"tenant": "plant-a", "retention_days": 7, "own": 7, "default": 30}
    shown = runner.invoke(app, ["tenants", "retention", "show", "plant-a"])
    assert json.loads(shown.stdout)["retention_days"] == 7
    back = runner.invoke(app, ["tenants", "retention", "set", "plant-a", "--default"])
    assert json.loads(back.stdout)["own"] is None
    assert runner.invoke(app, ["tenants", "retention", "set", "plant-a"]).exit_code != 0

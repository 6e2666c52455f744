"""``shopfloor drift`` with typer's CliRunner; the SDK client talks to an httpx.MockTransport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.cli_drift import DRIFT_EXIT
from shopfloor.client import Client

runner = CliRunner()


def _finding(name: str, drifted: bool, sentence: str, distance: float = 0.4) -> dict[str, Any]:
    return {
        "name": name, "kind": "numeric", "role": "input", "test": "ks", "statistic": distance,
        "p_value": 1e-9, "p_adjusted": 1e-8 if drifted else 0.8, "distance": distance,
        "drifted": drifted, "sentence": sentence, "details": {},
    }


REPORT = {
    "model": "press", "version": 3, "rows": 500, "drifted": True,
    "summary": "Drift: 1 of 2 inputs moved: Process temperature [K].",
    "inputs": [
        _finding(
            "Process temperature [K]", True, "Process temperature [K] rose by 2.1 K on average (KS 0.41)"
        ),
        _finding("Torque [Nm]", False, "Torque [Nm] unchanged (KS 0.03)", 0.03),
    ],
    "outputs": [], "together": [],
    "thresholds": {"alpha": 0.01, "min_distance": 0.1, "correction": "holm", "tests": 4},
    "warnings": ["embeddings not compared: ..."],
    "profile": {"source": "training", "created_at": "2026-12-01T00:00:00+00:00", "rows": 8000},
}
PROFILE = {
    "model": "press", "version": 3, "rows": 8000, "source": "training", "created_at": "...",
    "inputs": [
        {"name": "Torque [Nm]", "kind": "numeric", "role": "input", "column": "Torque [Nm]", "rows": 8000,
         "missing_share": 0.0, "unit": "Nm", "summary": {"mean": 40.0, "p5": 23.0, "p95": 56.0}},
        {"name": "Type", "kind": "categorical", "role": "input", "column": "Type", "rows": 8000,
         "missing_share": 0.01, "shares": {"L": 0.6, "M": 0.3, "H": 0.1}},
    ],
    "outputs": [], "together": None, "skipped": [{"name": "photo", "why": "images are not compared"}],
}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        requests.append(request)
        if request.url.path.endswith("/drift/profile"):
            return httpx.Response(200, json=PROFILE)
        if request.url.path.endswith("/drift/plot"):
            return httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})
        return httpx.Response(200, json=REPORT)

    monkeypatch.setattr(
        cli_common, "make_client", lambda: Client("http://t", "sk", transport=httpx.MockTransport(handler))
    )
    monkeypatch.setattr(cli_common.out, "width", 240)  # whole sentences on one line each
    return requests


def test_check_prints_the_summary_and_ranked_sentences(seen: list[httpx.Request], tmp_path: Path) -> None:
    window = tmp_path / "w.csv"
    window.write_text("a\n1\n")
    result = runner.invoke(
        app, ["drift", "check", "press", str(window), "--version", "3", "--alpha", "0.05"]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Drift: 1 of 2 inputs moved: Process temperature [K]." in out
    assert out.index("Process temperature [K] rose by 2.1 K") < out.index("Torque [Nm] unchanged")
    assert "4 tests, Holm-adjusted" in out and "embeddings not compared" in result.output
    assert dict(seen[-1].url.params) == {"version": "3", "alpha": "0.05"}
    assert b'filename="w.csv"' in seen[-1].content
    failing = runner.invoke(app, ["drift", "check", "press", str(window), "--fail-on-drift"])
    assert failing.exit_code == DRIFT_EXIT


def test_check_reads_json_records_and_prints_json(seen: list[httpx.Request], tmp_path: Path) -> None:
    window = tmp_path / "w.json"
    window.write_text(json.dumps({"records": [{"a": 1}]}))
    result = runner.invoke(app, ["drift", "check", "press", str(window), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["drifted"] is True
    assert json.loads(seen[-1].content) == {"records": [{"a": 1}]}


def test_profile_and_plot(seen: list[httpx.Request], tmp_path: Path) -> None:
    result = runner.invoke(app, ["drift", "profile", "press"])
    assert result.exit_code == 0, result.output
    assert "mean 40 Nm, 5-95 % 23..56" in result.stdout and "L 60 %, M 30 %, H 10 %" in result.stdout
    assert "not compared: photo" in result.output
    window = tmp_path / "w.csv"
    window.write_text("a\n1\n")
    out = tmp_path / "chart.png"
    command = ["drift", "plot", "press", str(window), "--kind", "timeline", "-o", str(out)]
    result = runner.invoke(app, command)
    assert result.exit_code == 0 and out.read_bytes() == b"\x89PNG"
    assert dict(seen[-1].url.params) == {"kind": "timeline"}


def test_help_lists_the_drift_commands() -> None:
    result = runner.invoke(app, ["drift", "--help"])
    assert result.exit_code == 0
    assert all(c in result.stdout for c in ("check", "profile", "plot"))

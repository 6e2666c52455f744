"""``shopfloor models retrain`` with typer's CliRunner; the SDK client talks to an httpx.MockTransport."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.client import Client

URL = "http://shopfloor.test"
runner = CliRunner()
QUEUED = {"id": "job_7", "type": "retrain", "status": "queued", "progress": 0.0, "created_at": "2026-01-01"}
CHECKS = {
    "held_out": {"passed": True, "message": "held-out: On 120 held-out rows of the new data, f1 is ..."},
    "live": {"available": False, "passed": None, "message": "live: not available (no labelled live data)"},
    "stability": {"passed": False, "message": "stability: the held-out improvement (0.0100) is within ..."},
}
RESULT = {
    "model": "mill",
    "version": 3,
    "champion": 1,
    "gate": {"passed": False, "metric": "f1", "checks": CHECKS, "summary": "Gate failed: ..."},
    "promotion": {"requested": True, "promoted": False, "message": "not promoted: the gate failed"},
}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    seen: list[httpx.Request] = []
    states = iter([{"status": "running", "progress": 0.5, "stage": "gate"}])

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        path = request.url.path
        if path == "/v1/datasets":
            return httpx.Response(201, json={"id": "ds_uploaded", "name": "new"})
        if path == "/v1/models/mill/retrain":
            return httpx.Response(202, json=QUEUED)
        if path == "/v1/jobs/job_7":
            state = next(states, {"status": "succeeded", "progress": 1.0, "result": RESULT})
            return httpx.Response(200, json={**QUEUED, **state})
        return httpx.Response(404, json={"title": "Not found", "status": 404, "detail": path})

    client = lambda: Client(URL, "sfk_x_y", transport=httpx.MockTransport(handler))  # noqa: E731
    monkeypatch.setattr(cli_common, "make_client", client)
    original = cli_common.watch_job
    monkeypatch.setattr(cli_common, "watch_job", lambda c, job_id, poll=0.5: original(c, job_id, poll=0))
    return seen


def test_retrain_uploads_files_follows_the_job_and_shows_the_gate(
    server: list[httpx.Request], tmp_path: Path
) -> None:
    new = tmp_path / "new.csv"
    new.write_text("a,b\n1,2\n")
    args = ["models", "retrain", "mill", "--data", "ds_old", "--data", str(new), "--promote"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("job_7\n")
    assert "uploaded new.csv as dataset ds_uploaded" in result.stderr and "gate 50%" in result.stderr
    sent = json.loads(next(r for r in server if r.url.path.endswith("/retrain")).content)
    assert sent == {"dataset_ids": ["ds_old", "ds_uploaded"], "promote": "if_gate_passes"}
    out = " ".join(result.stdout.split())
    assert "Version 3 against version 1: gate failed" in out
    for text in ("held-out", "passed", "not available", "stability band", "failed", "is within"):
        assert text in out, text
    assert "Promotion: not promoted: the gate failed" in out


def test_retrain_without_watching_prints_the_job_id_only(server: list[httpx.Request]) -> None:
    args = ["models", "retrain", "mill", "--data", "ds_new", "--version", "2", "--no-watch"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and result.stdout == "job_7\n"
    assert json.loads(server[-1].content) == {"dataset_ids": ["ds_new"], "promote": "never", "version": 2}


def test_retrain_needs_data() -> None:
    result = runner.invoke(app, ["models", "retrain", "mill"])
    assert result.exit_code == 2 and "--data" in result.output

"""The challenger through the SDK (``Client.set_challenger`` ...) and the CLI (``shopfloor models
challenger set|report|promote``), against the in-process app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import threshold_family
from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.errors import Conflict, InvalidInput, NotFound

Api = Any
LABEL = threshold_family.LABEL
runner = CliRunner()


def _traffic(api: Api, n: int = 40) -> None:
    for i in range(n):
        x = -1.0 + 2.0 * i / n
        response = api.client.post(
            f"/v1/models/{LABEL}/predict",
            json={"records": [{"x": x, "asset": "a"}]},
            headers={**api.headers("consumer"), "X-Request-ID": f"cli-{i}"},
        )
        assert response.status_code == 200, response.text
    assert api.platform.challengers.queue.wait_idle(20)
    api.platform.prediction_log.flush()


def test_sdk_sets_reports_and_promotes(threshold_models: Api, tmp_path: Path) -> None:
    api = threshold_models
    with api.sdk() as client:
        with pytest.raises(Conflict, match="no challenger"):
            client.set_challenger(LABEL, "shadow")
        with pytest.raises(InvalidInput):
            client.set_challenger(LABEL, "canary", version=2)  # no share
        with pytest.raises(NotFound):
            client.get_challenger("nope")
        found = client.set_challenger(LABEL, "canary", share=0.5, version=2)
        assert (found["mode"], found["share"], found["challenger"]) == ("canary", 0.5, 2)
        assert client.get_challenger(LABEL) == found
        record = [{"x": 0.2, "asset": "a"}]
        answers = [client.predict(LABEL, record, request_id=f"k-{i}", canary_key="part-9") for i in range(8)]
        keyed = {answer["version"] for answer in answers}
        assert len(keyed) == 1  # one canary key, one side
        _traffic(api)
        report = client.challenger_report(LABEL, window="30m", windows=4)
        assert report["compared"]["records"] == 48 and len(report["windows"]) == 4
        assert 0 < report["compared"]["served_by_challenger"] < 48
        png = client.challenger_plot(LABEL, tmp_path / "compare.png", window="30m", windows=4)
        assert png.read_bytes().startswith(b"\x89PNG")
        with pytest.raises(Conflict, match="now version 2"):
            client.promote_challenger(LABEL, 3)
        done = client.promote_challenger(LABEL, report["challenger"], champion=report["champion"])
        assert done == {"model": LABEL, "production": 2, "previous": 1, "mode": "off"}


def test_cli_set_report_promote(
    threshold_models: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = threshold_models
    monkeypatch.setattr(cli_common, "make_client", api.sdk)
    result = runner.invoke(app, ["models", "challenger", "set", LABEL, "shadow", "--version", "2"])
    assert result.exit_code == 0, result.output
    assert "challenger 2 against production 1, mode shadow" in result.output
    _traffic(api)
    chart = tmp_path / "chart.png"
    args = ["--window", "1h", "--windows", "2", "--plot", str(chart)]
    result = runner.invoke(app, ["models", "challenger", "report", LABEL, *args])
    assert result.exit_code == 0, result.output
    shown = ("records compared", "same class", "f1 (higher is better)", "latency p95 (ms)", "Do not promote")
    for text in shown:
        assert text in result.output, result.output
    assert chart.read_bytes().startswith(b"\x89PNG")
    refused = runner.invoke(app, ["models", "challenger", "promote", LABEL, "--version", "3", "--yes"])
    assert refused.exit_code == 1 and "now version 2" in refused.output
    done = runner.invoke(app, ["models", "challenger", "promote", LABEL, "--yes"])
    assert done.exit_code == 0, done.output
    assert "production → version 2 (was 1)" in done.output
    shown = runner.invoke(app, ["models", "challenger", "show", LABEL])
    assert "mode off" in shown.output and "production 2" in shown.output
    bad = runner.invoke(app, ["models", "challenger", "set", LABEL, "sometimes"])
    assert bad.exit_code == 2

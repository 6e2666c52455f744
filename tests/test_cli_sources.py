"""``shopfloor sources`` with typer's CliRunner; the SDK client talks to an httpx.MockTransport.
The secret is read from a hidden prompt or a file and never appears in what the command prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.client import Client

runner = CliRunner()
SECRET = "s3cr3t-plant-key-value"
SOURCE = {
    "name": "plant-minio",
    "endpoint_url": "https://minio.plant.local:9000",
    "region": "us-east-1",
    "access_key_id": "plant-reader",
    "buckets": ["line-data", "results"],
    "created_at": "2026-12-01T08:00:00Z",
    "created_by": "key_1",
}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        requests.append(request)
        if request.method == "POST":
            return httpx.Response(201, json=SOURCE)
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json={"items": [SOURCE]})

    monkeypatch.setattr(cli_common, "out", Console(width=160, soft_wrap=False))
    client = lambda: Client("http://shopfloor.test", "sfk_t", transport=httpx.MockTransport(handler))  # noqa: E731
    monkeypatch.setattr(cli_common, "make_client", client)
    return requests


ADD = [
    "sources", "add", "plant-minio", "--endpoint", "https://minio.plant.local:9000",
    "--access-key-id", "plant-reader", "--bucket", "line-data", "--bucket", "results",
]


def _sent(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_add_asks_for_the_secret_without_echoing_it(seen: list[httpx.Request]) -> None:
    result = runner.invoke(app, ADD, input=f"{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert _sent(seen[0]) == {
        "name": "plant-minio",
        "endpoint_url": "https://minio.plant.local:9000",
        "region": "us-east-1",
        "access_key_id": "plant-reader",
        "secret_access_key": SECRET,
        "buckets": ["line-data", "results"],
    }
    assert SECRET not in result.output and "plant-reader" in result.output


def test_add_reads_the_secret_from_a_file(seen: list[httpx.Request], tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(f"{SECRET}\n")
    result = runner.invoke(app, [*ADD, "--secret-file", str(path), "--region", "eu-1"])
    assert result.exit_code == 0, result.output
    assert _sent(seen[0])["secret_access_key"] == SECRET and _sent(seen[0])["region"] == "eu-1"
    assert SECRET not in result.output


def test_an_empty_or_missing_secret_file_sends_nothing(seen: list[httpx.Request], tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    for path in (tmp_path / "empty", tmp_path / "absent"):
        result = runner.invoke(app, [*ADD, "--secret-file", str(path)])
        assert result.exit_code == 2 and "--secret-file" in result.output
    assert seen == []


def test_list_and_remove(seen: list[httpx.Request]) -> None:
    listed = runner.invoke(app, ["sources", "list"])
    assert listed.exit_code == 0, listed.output
    assert "plant-minio" in listed.output and "line-data, results" in listed.output
    removed = runner.invoke(app, ["sources", "remove", "plant-minio"])
    assert removed.exit_code == 0 and "removed" in removed.output
    assert (seen[-1].method, seen[-1].url.path) == ("DELETE", "/v1/sources/plant-minio")
    as_json = runner.invoke(app, ["sources", "list", "--json"])
    assert json.loads(as_json.stdout)[0]["name"] == "plant-minio"

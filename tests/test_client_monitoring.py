"""The SDK's prediction log, feedback and performance calls against httpx.MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shopfloor.client import Client
from shopfloor.client_monitoring import FEEDBACK_CHUNK

URL = "http://shopfloor.test"


def _client(handler: Any) -> tuple[Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return handler(request)

    return Client(URL, "sfk_x_y", transport=httpx.MockTransport(recording)), seen


def test_rate_settings_and_retention() -> None:
    c, seen = _client(lambda r: httpx.Response(200, json={"model": "m", "rate": 0.25, "retention_days": 30}))
    assert c.set_log_rate("m", 0.25)["rate"] == 0.25
    assert seen[-1].method == "PUT" and seen[-1].url.path == "/v1/models/m/prediction-log"
    assert json.loads(seen[-1].content) == {"rate": 0.25}
    c.log_settings("a b")
    assert seen[-1].url.raw_path == b"/v1/models/a%20b/prediction-log"
    c.set_log_retention(7)
    assert seen[-1].url.path == "/v1/prediction-log/retention" and json.loads(seen[-1].content) == {"days": 7}


def test_export_parses_json_lines_or_streams_to_a_file(tmp_path: Path) -> None:
    lines = b'{"record_id":"a-0","outcome":null}\n{"record_id":"a-1","outcome":1}\n'
    c, seen = _client(lambda r: httpx.Response(200, content=lines))
    since = datetime(2026, 1, 1, tzinfo=UTC)
    rows = c.export_predictions("m", version=2, since=since, request_id="r")
    assert [r["record_id"] for r in rows] == ["a-0", "a-1"]
    query = dict(seen[-1].url.params)
    assert query == {"format": "jsonl", "version": "2", "since": since.isoformat(), "request_id": "r"}
    target = c.export_predictions("m", tmp_path / "log.csv", format="csv")
    assert target.read_bytes() == lines and dict(seen[-1].url.params)["format"] == "csv"


def test_feedback_goes_in_calls_of_at_most_the_server_limit() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        return httpx.Response(
            200, json={"model": "m", "kind": "label", "accepted": len(items), "records": ["x"] * len(items)}
        )

    c, seen = _client(answer)
    items = [{"request_id": "r", "index": i, "outcome": i % 2} for i in range(FEEDBACK_CHUNK + 5)]
    found = c.send_feedback("m", items)
    assert found["accepted"] == FEEDBACK_CHUNK + 5 and len(found["records"]) == FEEDBACK_CHUNK + 5
    assert [len(json.loads(r.content)["items"]) for r in seen] == [FEEDBACK_CHUNK, 5]


def test_performance_and_its_plot(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/plot"):
            return httpx.Response(200, content=b"\x89PNG...", headers={"content-type": "image/png"})
        return httpx.Response(200, json={"model": "m", "windows": []})

    c, seen = _client(answer)
    assert c.performance("m", window="5000", windows=3, version="production")["model"] == "m"
    assert dict(seen[-1].url.params) == {"window": "5000", "windows": "3", "version": "production"}
    assert c.performance_plot("m", tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_predict_may_name_its_request() -> None:
    c, seen = _client(lambda r: httpx.Response(200, json={"predictions": []}))
    c.predict("m", [{"a": 1}], request_id="order-7")
    assert seen[-1].headers["X-Request-ID"] == "order-7"
    c.predict("m", [{"a": 1}])
    assert "X-Request-ID" not in seen[-1].headers

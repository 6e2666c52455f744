"""The SDK's drift calls against httpx.MockTransport: request shapes, windows, retries, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from shopfloor import errors
from shopfloor.client import Client

URL = "http://shopfloor.test"
REPORT = {"model": "press", "version": 2, "rows": 2, "drifted": False, "summary": "No drift: ..."}


class Seen:
    def __init__(self, answer: Any) -> None:
        self.answers = answer if isinstance(answer, list) else [answer]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)


def _client(answer: Any) -> tuple[Client, Seen]:
    seen = Seen(answer)
    client = Client(URL, "sk_test", transport=httpx.MockTransport(seen), backoff_s=0.0)
    client._sleep = lambda s: None
    return client, seen


def test_records_are_sent_json_safe_with_version_and_thresholds() -> None:
    client, seen = _client(REPORT)
    frame = pd.DataFrame({"Torque [Nm]": [40.0, np.nan], "Type": ["L", "H"]})
    assert client.drift("press line", frame, version="production", alpha=0.05) == REPORT
    request = seen.requests[-1]
    assert request.method == "POST" and request.url.raw_path.startswith(b"/v1/models/press%20line/drift?")
    assert dict(request.url.params) == {"version": "production", "alpha": "0.05"}
    records = [{"Torque [Nm]": 40.0, "Type": "L"}, {"Torque [Nm]": None, "Type": "H"}]
    assert json.loads(request.content) == {"records": records}


def test_a_file_is_uploaded_as_it_is_and_a_dataset_by_id(tmp_path: Path) -> None:
    csv = tmp_path / "window.csv"
    csv.write_text("a,b\n1,2\n")
    client, seen = _client(REPORT)
    client.drift("press", csv)
    body = seen.requests[-1].content.decode()
    assert 'name="file"; filename="window.csv"' in body and "a,b\n1,2\n" in body
    client.drift("press", dataset_id="ds_1", min_distance=0.2)
    assert json.loads(seen.requests[-1].content) == {"dataset_id": "ds_1"}
    assert dict(seen.requests[-1].url.params) == {"min_distance": "0.2"}
    with pytest.raises(errors.InvalidInput, match="one of the two"):
        client.drift("press", csv, dataset_id="ds_1")
    with pytest.raises(errors.InvalidInput):
        client.drift("press")


def test_profile_and_plot(tmp_path: Path) -> None:
    client, seen = _client({"model": "press", "version": 2, "inputs": []})
    assert client.drift_profile("press", version=2)["version"] == 2
    assert seen.requests[-1].url.path == "/v1/models/press/drift/profile"
    client, seen = _client(httpx.Response(200, content=b"\x89PNG...", headers={"content-type": "image/png"}))
    assert client.drift_plot("press", [{"a": 1}], kind="timeline") == b"\x89PNG..."
    assert dict(seen.requests[-1].url.params) == {"kind": "timeline"}
    target = client.drift_plot("press", [{"a": 1}], dest=tmp_path / "d.png")
    assert isinstance(target, Path) and target.read_bytes() == b"\x89PNG..."


def test_a_drift_check_changes_nothing_so_a_429_is_retried() -> None:
    busy = httpx.Response(
        429,
        json={"type": "urn:shopfloor:problem:rate-limited", "title": "Busy", "status": 429, "detail": "slow"},
        headers={"content-type": "application/problem+json", "retry-after": "0"},
    )
    client, seen = _client([busy, REPORT])
    assert client.drift("press", [{"a": 1}]) == REPORT
    assert len(seen.requests) == 2


def test_problems_become_project_errors() -> None:
    conflict = httpx.Response(
        409,
        json={
            "type": "urn:shopfloor:problem:conflict",
            "title": "Conflict",
            "status": 409,
            "detail": "press version 1 has no drift profile: ...",
        },
        headers={"content-type": "application/problem+json"},
    )
    client, _ = _client(conflict)
    with pytest.raises(errors.Conflict, match="no drift profile"):
        client.drift("press", [{"a": 1}])

"""The SDK's retrain and promote against httpx.MockTransport: request shapes, waiting, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shopfloor import errors
from shopfloor.client import Client, JobFailed

URL = "http://shopfloor.test"
QUEUED = {"id": "job_9", "type": "retrain", "status": "queued", "progress": 0.0, "created_at": "2026-01-01"}
GATE = {"passed": True, "metric": "f1", "checks": {}, "summary": "Gate passed"}


def _client(handler: Any) -> tuple[Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return handler(request)

    return Client(URL, "sfk_x_y", transport=httpx.MockTransport(recording)), seen


def _job_states(*states: dict[str, Any]) -> Any:
    remaining = list(states)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.raw_path == b"/v1/models/line%201/retrain":
            return httpx.Response(202, json=QUEUED)
        if request.method == "GET" and request.url.path == "/v1/jobs/job_9":
            state = remaining.pop(0) if len(remaining) > 1 else remaining[0]
            return httpx.Response(200, json={**QUEUED, **state})
        return httpx.Response(404, json={"title": "Not found", "status": 404, "detail": request.url.path})

    return handler


def test_retrain_sends_the_datasets_and_waits_with_progress() -> None:
    done = {"status": "succeeded", "progress": 1.0, "result": {"version": 4, "gate": GATE}}
    client, seen = _client(_job_states({"status": "running", "progress": 0.4, "stage": "searching"}, done))
    shown: list[tuple[str, float]] = []
    job = client.retrain(
        "line 1",
        ["ds_old", "ds_new"],
        version=3,
        promote=True,
        on_progress=lambda j: shown.append((j["status"], j["progress"])),
        timeout=5,
        poll=0,
    )
    assert job["result"]["gate"]["passed"] is True and job["result"]["version"] == 4
    first = seen[0]
    assert first.method == "POST" and first.url.raw_path == b"/v1/models/line%201/retrain"
    sent = {"dataset_ids": ["ds_old", "ds_new"], "promote": "if_gate_passes", "version": 3}
    assert json.loads(first.content) == sent
    assert shown == [("running", 0.4), ("succeeded", 1.0)]


def test_retrain_without_waiting_and_with_one_dataset() -> None:
    client, seen = _client(_job_states({}))
    job = client.retrain("line 1", "ds_new", wait=False)
    assert job["status"] == "queued" and len(seen) == 1
    assert json.loads(seen[0].content) == {"dataset_ids": ["ds_new"], "promote": "never"}


def test_a_failed_retraining_job_raises() -> None:
    client, _ = _client(_job_states({"status": "failed", "error": "every class needs at least 5 rows"}))
    with pytest.raises(JobFailed, match="every class needs at least 5 rows"):
        client.retrain("line 1", "ds_new", timeout=5, poll=0)


def test_data_that_does_not_fit_raises_with_the_column() -> None:
    body = {
        "type": "urn:shopfloor:problem:invalid-input", "title": "Invalid input", "status": 422,
        "detail": "dataset 'new' (ds_new): it lacks 'Torque [Nm]'",
        "errors": [{"loc": ["body", "dataset_ids", 0, "columns", "Torque [Nm]"], "msg": "column missing"}],
    }  # fmt: skip
    headers = {"content-type": "application/problem+json"}
    client, _ = _client(lambda r: httpx.Response(422, json=body, headers=headers))
    with pytest.raises(errors.InvalidInput) as raised:
        client.retrain("m", "ds_new")
    assert "Torque [Nm]" in raised.value.detail and raised.value.errors[0]["loc"][-1] == "Torque [Nm]"


def test_promote_in_one_call() -> None:
    answer = {"model": "m", "alias": "production", "version": 4, "previous": 3}
    client, seen = _client(lambda r: httpx.Response(200, json=answer))
    assert client.promote("m", 4, expected=3) == answer
    assert seen[-1].url.path == "/v1/models/m/promote"
    assert json.loads(seen[-1].content) == {"version": 4, "force": False, "expected": 3}
    client.promote("m", 4, force=True)
    assert json.loads(seen[-1].content) == {"version": 4, "force": True}

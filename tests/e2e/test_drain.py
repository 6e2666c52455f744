"""SIGTERM to a real `shopfloor serve` drains it: a slow request in flight still gets its answer,
new connections are refused meanwhile, and a job that outlasts SHOPFLOOR_JOB_DRAIN_S goes back to
the queue (attempt counted) for the next server. With SHOPFLOOR_LOG_FORMAT=json every line the
server and its processes write is a JSON object, and the job's lines carry the id of the request
that queued it."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from shopfloor import Client
from shopfloor.registry.sql import SqlStore

sys.path.insert(0, str(Path(__file__).parent))
from server import Server, gone_within  # noqa: E402

pytestmark = pytest.mark.e2e

ENV = {
    "SHOPFLOOR_SECRET_KEY": "f" * 64,
    "SHOPFLOOR_MASTER_KEY": "e" * 64,
    "SHOPFLOOR_LOG_FORMAT": "json",
    "SHOPFLOOR_ACCESS_LOG": "true",
    "SHOPFLOOR_JOB_DRAIN_S": "2",
    "SHOPFLOOR_SHUTDOWN_GRACE_S": "30",
}
BOUNDARY = "shopfloor-drain"


def _slow_body(sent: threading.Event, pause_s: float) -> Iterator[bytes]:
    """A multipart dataset upload that stops half way for ``pause_s`` seconds."""
    rows = b"a,b,y\n" + b"".join(f"{i},{i % 7},{i % 2}\n".encode() for i in range(300))
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nslow\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    yield rows[: len(rows) // 2]
    sent.set()
    time.sleep(pause_s)
    yield rows[len(rows) // 2 :]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _queue_long_job(server: Server, key: str, tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    data = tmp_path / "t.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x.sum(axis=1) > 0).astype(int)}).to_csv(data, index=False)
    with Client(server.url, key) as c:
        ds = c.upload_dataset(data)
    body = {"task": "tabular_classification", "dataset_id": ds["id"], "target": "y", "model_name": "long"}
    answer = httpx.post(
        f"{server.url}/v1/jobs",
        json={**body, "time_budget_s": 120},
        headers={"Authorization": f"Bearer {key}", "X-Request-ID": "drain-job-1"},
    )
    assert answer.status_code == 202 and answer.headers["x-request-id"] == "drain-job-1", answer.text
    return str(answer.json()["id"])


def _job(server: Server, key: str, job_id: str) -> dict[str, Any]:
    with Client(server.url, key) as c:
        return dict(c.get_job(job_id))


def _wait_running(server: Server, key: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := _job(server, key, job_id))["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job["status"] == "running", job
    return job


def test_sigterm_finishes_requests_in_flight_and_hands_long_jobs_back(tmp_path: Path) -> None:
    server = Server(tmp_path / "home", **ENV).start()
    assert server.proc is not None
    key = server.admin_key()
    assert key
    job_id = _queue_long_job(server, key, tmp_path)
    assert _wait_running(server, key, job_id)["attempts"] == 1

    sent, answers = threading.Event(), []

    def upload() -> None:
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "X-Request-ID": "drain-upload-1",
        }
        answers.append(
            httpx.post(
                f"{server.url}/v1/datasets", content=_slow_body(sent, 4.0), headers=headers, timeout=60
            )
        )

    slow = threading.Thread(target=upload)
    slow.start()
    assert sent.wait(20)
    time.sleep(0.3)  # the first half is at the server
    os.kill(server.proc.pid, signal.SIGTERM)  # the serving process only, as `kill PID` does
    time.sleep(0.8)
    with pytest.raises(httpx.ConnectError):  # draining: no new connection
        httpx.get(f"{server.url}/healthz", timeout=2)
    slow.join(30)
    assert answers and answers[0].status_code == 201, answers and answers[0].text
    assert answers[0].headers["x-request-id"] == "drain-upload-1"
    took = gone_within(server, 45)  # the port stays in TIME_WAIT of the closed connection: no bind check
    print(f"SIGTERM with a request in flight and a long job: every process gone after {took:.1f}s")

    store = SqlStore(f"sqlite:///{(tmp_path / 'home' / 'registry.db').resolve()}")
    try:
        job = store.get_job(None, job_id)
    finally:
        store.close()
    assert (job.status, job.attempts, job.worker, job.request_id) == ("queued", 1, None, "drain-job-1")
    assert job.message and "handed back" in job.message and job.progress == 0.0

    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    assert {line["process"] for line in lines} >= {"api", "runner"}
    ours = [line for line in lines if line.get("job_id") == job_id]
    assert {line["process"] for line in ours} >= {"runner"} and ours
    assert all(line["request_id"] == "drain-job-1" and line["tenant"] == "default" for line in ours)
    assert any("handed back" in line["message"] for line in ours)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any(line["request_id"] == "drain-upload-1" and "201" in line["message"] for line in access)
    assert all(line["request_id"] for line in access)

    # the next server (same port) starts it again: the second attempt, same request id
    server.start()
    try:
        again = _wait_running(server, key, job_id)
        assert again["attempts"] == 2 and again["request_id"] == "drain-job-1"
    finally:
        server.stop()

"""OpenTelemetry spans reach an OTLP/HTTP collector: one per request (route template, status,
tenant, model, request id; no payload), and one per job run in the trace of the request that
queued it. Without an endpoint nothing of OpenTelemetry's SDK is loaded."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from conftest import Api, api_settings, open_api

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Collector(ThreadingHTTPServer):
    """A tiny OTLP/HTTP receiver on loopback: POST /v1/traces, protobuf bodies, spans kept decoded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.paths.append(self.path)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    self.server.spans.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                            "resource": service,
                        }
                    )
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def _value(v: Any) -> Any:
    return getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None


@pytest.fixture()
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _train(api: Api) -> tuple[dict[str, Any], str]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x.sum(axis=1) > 0).astype(int)})
    ds = api.client.post(
        "/v1/datasets",
        files={"file": ("t.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": "t"},
        headers=api.headers(),
    ).json()
    body = {"task": "tabular_classification", "dataset_id": ds["id"], "target": "y", "model_name": "press-3"}
    headers = {
        **api.headers(),
        "X-Request-ID": "order-77",
        "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
    }
    answer = api.client.post("/v1/jobs", json={**body, "time_budget_s": 5}, headers=headers)
    assert answer.status_code == 202, answer.text
    return answer.json(), ds["id"]


def test_spans_of_a_request_and_of_the_job_it_queued_arrive_linked(
    tmp_path: Path, collector: Collector
) -> None:
    settings = api_settings(tmp_path / "home").model_copy(update={"otlp_endpoint": collector.url + "/"})
    for api in open_api(settings):
        job, _ = _train(api)
        api.run_jobs()
        assert api.client.get(f"/v1/jobs/{job['id']}", headers=api.headers()).json()["status"] == "succeeded"
        predicted = api.client.post(
            "/v1/models/press-3/predict?version=1",
            json={"records": [{"a": 0.31, "b": 0.77}]},
            headers=api.headers(),
        )
        assert predicted.status_code == 200, predicted.text
        secret = api.keys["admin"]
    # the app's exit flushed the API process's spans; the job's run flushed its own
    assert set(collector.paths) == {"/v1/traces"}
    by_name = {s["name"]: s for s in collector.spans}
    request = by_name["POST /v1/jobs"]
    assert (request["trace_id"], request["parent"]) == (
        CLIENT_TRACE,
        CLIENT_SPAN,
    )  # the client's trace goes on
    assert request["attributes"] == {
        "http.request.method": "POST",
        "http.route": "/v1/jobs",
        "http.response.status_code": 202,
        "shopfloor.tenant": "default",
        "shopfloor.request_id": "order-77",
    }
    assert (
        request["resource"]["service.name"] == "shopfloor"
        and request["resource"]["shopfloor.process"] == "api"
    )
    run = by_name["job train"]
    assert run["trace_id"] == CLIENT_TRACE and run["parent"] == request["span_id"]
    assert run["resource"]["shopfloor.process"] == "job"
    assert {
        k: run["attributes"][k] for k in ("shopfloor.job_id", "shopfloor.request_id", "shopfloor.attempt")
    } == {
        "shopfloor.job_id": job["id"],
        "shopfloor.request_id": "order-77",
        "shopfloor.attempt": 1,
    }
    assert run["attributes"]["shopfloor.outcome"] == "succeeded"
    predict = by_name["POST /v1/models/{name}/predict"]
    assert predict["attributes"]["shopfloor.model"] == "press-3"
    assert predict["trace_id"] != CLIENT_TRACE and predict["parent"] == ""  # a new trace
    # no secret, no payload, no concrete path in any span
    text = repr(collector.spans)
    assert secret not in text and "0.31" not in text and "/v1/models/press-3" not in text


def test_an_endpoint_that_is_no_http_url_is_refused() -> None:
    from pydantic import ValidationError

    from shopfloor.settings import Settings

    with pytest.raises(ValidationError, match="OTLP endpoint must be an http"):
        Settings(otlp_endpoint="collector:4317")
    assert Settings(otlp_endpoint="").otlp_endpoint is None


def test_without_an_endpoint_nothing_of_the_sdk_is_loaded(tmp_path: Path) -> None:
    script = f"""
import sys
from fastapi.testclient import TestClient
from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.settings import Settings
settings = Settings(home={str(tmp_path / "home")!r})
platform = prepare(settings)
with TestClient(create_app(settings, platform)) as client:
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/jobs").status_code == 401
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter")))
print("loaded:", loaded)
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout

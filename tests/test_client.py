"""The SDK against httpx.MockTransport: request shapes, auth, error mapping, waiting, records."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from shopfloor import errors
from shopfloor.client import (
    Client,
    ClientError,
    ConnectionFailed,
    JobFailed,
    JobTimeout,
    RateLimitedError,
    UnexpectedResponse,
    records_payload,
)

URL = "http://shopfloor.test"
JOB = {
    "id": "job_1",
    "type": "train",
    "status": "queued",
    "progress": 0.0,
    "created_at": "2024-01-01T00:00:00Z",
}


class Recorder:
    """A MockTransport handler that records requests and answers from a route table."""

    def __init__(self, routes: dict[tuple[str, str], Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return problem(404, "not-found", f"no route {request.method} {request.url.path}")
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def problem(status: int, code: str, detail: str, errs: list[dict[str, Any]] | None = None) -> httpx.Response:
    body = {
        "type": f"urn:shopfloor:problem:{code}",
        "title": code.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
        "errors": errs or [],
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def make(routes: dict[tuple[str, str], Any], key: str | None = "sk_test") -> tuple[Client, Recorder]:
    rec = Recorder(routes)
    return Client(URL, key, transport=httpx.MockTransport(rec)), rec


def test_auth_header_base_url_and_repr_hides_key() -> None:
    client, rec = make({("GET", "/healthz"): {"status": "ok"}})
    with client:
        assert client.health() == {"status": "ok"}
    assert rec.last.headers["authorization"] == "Bearer sk_test"
    assert str(rec.last.url) == f"{URL}/healthz"
    assert "sk_test" not in repr(client)


def test_defaults_come_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_URL", "http://env.test:9000/")
    monkeypatch.setenv("SHOPFLOOR_API_KEY", "sk_env")
    rec = Recorder({("GET", "/healthz"): {"status": "ok"}})
    with Client(transport=httpx.MockTransport(rec)) as client:
        client.health()
    assert client.url == "http://env.test:9000"
    assert rec.last.headers["authorization"] == "Bearer sk_env"


def test_no_key_sends_no_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPFLOOR_API_KEY", raising=False)
    client, rec = make({("GET", "/healthz"): {"status": "ok"}}, key=None)
    client.health()
    assert "authorization" not in rec.last.headers


def test_upload_dataset_is_multipart_with_name(tmp_path: Path) -> None:
    csv = tmp_path / "press.csv"
    csv.write_text("a,b\n1,2\n")
    client, rec = make({("POST", "/v1/datasets"): httpx.Response(201, json={"id": "ds_1", "name": "press"})})
    assert client.upload_dataset(csv)["id"] == "ds_1"
    req = rec.last
    assert req.headers["content-type"].startswith("multipart/form-data")
    body = req.content.decode()
    assert 'name="file"; filename="press.csv"' in body and "a,b\n1,2\n" in body
    assert 'name="name"' in body and "\r\n\r\npress\r\n" in body
    client.upload_dataset(csv, name="other")
    assert "\r\n\r\nother\r\n" in rec.last.content.decode()


def test_lists_return_items_and_paths_are_quoted() -> None:
    client, rec = make(
        {
            ("GET", "/v1/datasets"): {"items": [{"id": "ds_1"}]},
            ("GET", "/v1/jobs"): {"items": []},
            ("GET", "/v1/models"): {"items": [{"name": "m"}]},
            ("GET", "/v1/keys"): {"items": [{"id": "key_1"}]},
            ("GET", "/v1/models/a b/versions/2"): {"model": "a b", "version": 2},
        }
    )
    assert client.list_datasets() == [{"id": "ds_1"}]
    assert client.list_jobs() == []
    assert client.list_models() == [{"name": "m"}]
    assert client.list_keys() == [{"id": "key_1"}]
    assert client.get_version("a b", 2)["version"] == 2
    assert rec.last.url.raw_path == b"/v1/models/a%20b/versions/2"


def test_train_request_shape() -> None:
    client, rec = make({("POST", "/v1/jobs"): httpx.Response(202, json=JOB)})
    job = client.train("ds_1", "Machine failure", "ai4i", exclude=("UDI", "Product ID"), time_budget_s=30)
    assert job["id"] == "job_1"
    assert json.loads(rec.last.content) == {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": "ds_1",
        "target": "Machine failure",
        "exclude": ["UDI", "Product ID"],
        "model_name": "ai4i",
        "seed": 0,
        "time_budget_s": 30,
    }


def test_predict_explain_rules_alias_query_and_bodies() -> None:
    client, rec = make(
        {
            ("POST", "/v1/models/m/predict"): {
                "model": "m",
                "version": 3,
                "predictions": [{"prediction": 1}],
            },
            ("POST", "/v1/models/m/explain"): {
                "model": "m",
                "version": 3,
                "method": "lime",
                "explanations": [],
            },
            ("GET", "/v1/models/m/rules"): {"model": "m", "version": 3, "fidelity": 0.9, "rules": []},
            ("PUT", "/v1/models/m/aliases/production"): {"model": "m", "alias": "production", "version": 3},
            ("PATCH", "/v1/models/m"): {"name": "m", "description": "wear"},
        }
    )
    client.predict("m", [{"x": 1}], version=3)
    assert rec.last.url.params["version"] == "3"
    assert json.loads(rec.last.content) == {"records": [{"x": 1}]}
    client.predict("m", {"x": 2})
    assert "version" not in rec.last.url.params
    assert json.loads(rec.last.content) == {"records": [{"x": 2}]}
    client.explain("m", [{"x": 1}], method="lime")
    assert rec.last.url.params["method"] == "lime"
    client.rules("m", version=2)
    assert rec.last.url.params["version"] == "2"
    assert client.set_alias("m", "production", 3)["version"] == 3
    assert json.loads(rec.last.content) == {"version": 3}
    assert client.describe_model("m", "wear")["description"] == "wear"
    assert (rec.last.method, json.loads(rec.last.content)) == ("PATCH", {"description": "wear"})


def test_recordings_are_sent_as_files_with_their_fields(tmp_path: Path) -> None:
    answer = {"model": "m", "version": 2, "predictions": [{"file": "a.mat"}, {"file": "b.wav"}]}
    client, rec = make({("POST", "/v1/models/m/predict"): answer, ("POST", "/v1/models/m/explain"): answer})
    (tmp_path / "a.mat").write_bytes(b"MATLAB 5.0 a")
    (tmp_path / "b.wav").write_bytes(b"RIFF b")
    files = [tmp_path / "a.mat", str(tmp_path / "b.wav")]
    channels = ["FE_time", "DE_time"]
    assert client.predict_recordings("m", files, sampling_rate=12000, channels=channels, version=2) == answer
    req = rec.last
    assert req.headers["content-type"].startswith("multipart/form-data")
    assert req.url.params["version"] == "2"
    body = req.content.decode()
    assert body.index('name="recording"; filename="a.mat"') < body.index('name="recording"; filename="b.wav"')
    assert "MATLAB 5.0 a" in body and "RIFF b" in body
    assert '"sampling_rate"\r\n\r\n12000\r\n' in body and '"channels"\r\n\r\nFE_time,DE_time\r\n' in body
    assert 'name="rpm"' not in body
    client.explain_recordings("m", files[:1], rpm=1797)
    assert rec.last.url.path == "/v1/models/m/explain" and rec.last.url.params["method"] == "shap"
    body = rec.last.content.decode()
    assert body.count('name="recording"') == 1 and '"rpm"\r\n\r\n1797\r\n' in body


def test_dataframe_records_nan_to_none_and_numpy_to_python() -> None:
    df = pd.DataFrame(
        {
            "temp": [300.5, float("nan")],
            "count": pd.array([1, None], dtype="Int64"),
            "type": ["L", None],
            "when": pd.to_datetime(["2024-01-01", None]),
            "ok": [True, False],
        }
    )
    payload = records_payload(df)
    assert payload == [
        {"temp": 300.5, "count": 1, "type": "L", "when": "2024-01-01T00:00:00", "ok": True},
        {"temp": None, "count": None, "type": None, "when": None, "ok": False},
    ]
    json.dumps(payload, allow_nan=False)  # strictly valid JSON

    client, rec = make({("POST", "/v1/models/m/predict"): {"model": "m", "version": 1, "predictions": []}})
    client.predict("m", df)
    assert json.loads(rec.last.content)["records"][1]["temp"] is None


def test_plain_records_nan_cleaned_and_non_objects_rejected() -> None:
    assert records_payload([{"a": math.nan, "b": [1.0, math.inf]}]) == [{"a": None, "b": [1.0, None]}]
    with pytest.raises(errors.InvalidInput) as info:
        records_payload([{"a": 1}, 5])
    assert info.value.errors == [{"loc": ["records", 1], "msg": "expected an object"}]


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (422, "invalid-input", errors.InvalidInput),
        (422, "invalid-dataset", errors.InvalidDataset),
        (400, "bad-request", errors.BadRequest),
        (401, "not-authenticated", errors.NotAuthenticated),
        (403, "forbidden", errors.Forbidden),
        (404, "not-found", errors.NotFound),
        (409, "conflict", errors.Conflict),
        (409, "job-cancelled", errors.JobCancelled),
        (413, "payload-too-large", errors.PayloadTooLarge),
        (415, "unsupported-media-type", errors.UnsupportedMediaType),
        (500, "artifact-corrupted", errors.ArtifactCorrupted),
        (500, "internal-error", errors.ShopfloorError),
    ],
)
def test_problem_maps_to_error_class(status: int, code: str, cls: type[errors.ShopfloorError]) -> None:
    errs = [{"loc": ["records", 0, "temp"], "msg": "not a number"}]
    client, _ = make({("GET", "/v1/models/m"): problem(status, code, "it went wrong", errs)})
    with pytest.raises(errors.ShopfloorError) as info:
        client.get_model("m")
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.detail == "it went wrong"
    assert info.value.errors == errs
    assert info.value.extra["type"] == f"urn:shopfloor:problem:{code}"


def test_unknown_code_falls_back_to_status_and_non_json_bodies() -> None:
    client, _ = make(
        {
            ("GET", "/v1/jobs/a"): problem(422, "something-new", "bad field"),
            ("GET", "/v1/jobs/b"): httpx.Response(401, text="nope"),
            ("GET", "/v1/jobs/c"): httpx.Response(429, json={"detail": "slow down"}),
            ("GET", "/v1/jobs/d"): httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "x"}]}),
            ("GET", "/v1/jobs/e"): httpx.Response(200, text="<html>"),
        }
    )
    with pytest.raises(errors.InvalidInput):
        client.get_job("a")
    with pytest.raises(errors.NotAuthenticated, match="nope"):
        client.get_job("b")
    client._sleep = lambda s: None
    with pytest.raises(RateLimitedError, match="slow down") as info:
        client.get_job("c")
    assert info.value.status == 429 and info.value.retry_after is None
    with pytest.raises(errors.InvalidInput) as invalid:
        client.get_job("d")
    assert invalid.value.errors == [{"loc": ["body"], "msg": "x"}]
    with pytest.raises(UnexpectedResponse, match="expected JSON"):
        client.get_job("e")


def test_connection_refused_names_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client = Client(URL, "k", transport=httpx.MockTransport(refuse))
    with pytest.raises(ConnectionFailed, match="SHOPFLOOR_URL") as info:
        client.health()
    assert URL in info.value.detail
    assert isinstance(info.value, ClientError) and isinstance(info.value, errors.ShopfloorError)


def _job_sequence(*states: dict[str, Any]) -> Any:
    remaining = list(states)

    def answer(request: httpx.Request) -> dict[str, Any]:
        state = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return {**JOB, **state}

    return answer


def test_wait_returns_final_job_and_reports_progress() -> None:
    seq = _job_sequence(
        {"status": "queued"},
        {"status": "running", "progress": 0.5, "stage": "training"},
        {"status": "succeeded", "progress": 1.0, "result": {"model": "m", "version": 1}},
    )
    client, rec = make({("GET", "/v1/jobs/job_1"): seq})
    seen: list[str] = []
    job = client.wait("job_1", poll=0, on_progress=lambda j: seen.append(j["status"]))
    assert job["status"] == "succeeded" and job["result"]["version"] == 1
    assert seen == ["queued", "running", "succeeded"]
    assert len(rec.requests) == 3


def test_wait_raises_on_failed_and_cancelled_with_the_job() -> None:
    client, _ = make(
        {
            ("GET", "/v1/jobs/f"): {**JOB, "id": "f", "status": "failed", "error": "target has one class"},
            ("GET", "/v1/jobs/c"): {**JOB, "id": "c", "status": "cancelled"},
        }
    )
    with pytest.raises(JobFailed, match="target has one class") as failed:
        client.wait("f", poll=0)
    assert failed.value.job["status"] == "failed"
    with pytest.raises(errors.JobCancelled) as cancelled:
        client.wait("c", poll=0)
    assert cancelled.value.extra["job"]["id"] == "c"


def test_wait_times_out() -> None:
    client, _ = make({("GET", "/v1/jobs/job_1"): {**JOB, "status": "running"}})
    with pytest.raises(JobTimeout) as info:
        client.wait("job_1", timeout=0.05, poll=0.01)
    assert info.value.extra["job"]["status"] == "running"


def test_cancel_job_and_revoke_key() -> None:
    client, rec = make(
        {
            ("POST", "/v1/jobs/job_1/cancel"): {**JOB, "status": "cancelled"},
            ("DELETE", "/v1/keys/key_1"): httpx.Response(204),
        }
    )
    assert client.cancel_job("job_1")["status"] == "cancelled"
    assert client.revoke_key("key_1") is None
    assert rec.last.method == "DELETE"


def test_create_key_body() -> None:
    created = {"id": "key_2", "tenant": "t", "role": "consumer", "secret": "sk_x", "created_at": "2024"}
    client, rec = make({("POST", "/v1/keys"): httpx.Response(201, json=created)})
    assert client.create_key("consumer", name="line 3")["secret"] == "sk_x"
    assert json.loads(rec.last.content) == {"role": "consumer", "name": "line 3"}


def test_batch_and_job_result_bytes_and_file(tmp_path: Path) -> None:
    src = tmp_path / "shift.csv"
    src.write_text("a\n1\n")
    scored = b"a,prediction\n1,0\n"
    client, rec = make(
        {
            ("POST", "/v1/models/m/batch"): httpx.Response(202, json={**JOB, "type": "batch_predict"}),
            ("GET", "/v1/jobs/job_1/result"): httpx.Response(
                200, content=scored, headers={"content-type": "text/csv"}
            ),
            ("GET", "/v1/jobs/gone/result"): problem(404, "not-found", "no result yet"),
        }
    )
    assert client.batch("m", src, version=2)["type"] == "batch_predict"
    assert rec.last.url.params["version"] == "2"
    assert 'filename="shift.csv"' in rec.last.content.decode()
    assert client.job_result("job_1") == scored
    out = client.job_result("job_1", dest=tmp_path / "out.csv")
    assert out.read_bytes() == scored
    assert not (tmp_path / "out.csv.part").exists()
    with pytest.raises(errors.NotFound, match="no result yet"):
        client.job_result("gone", dest=tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()


def test_lazy_facade() -> None:
    import shopfloor

    assert shopfloor.Client is Client


def _limited_then(answer: Any, times: int, retry_after: str | None = "2") -> Any:
    """A route that answers 429 (with Retry-After) ``times`` times, then ``answer``."""
    left = [times]

    def route(request: httpx.Request) -> Any:
        if left[0] > 0:
            left[0] -= 1
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return httpx.Response(
                429,
                json={
                    "type": "urn:shopfloor:problem:rate-limited",
                    "title": "Too many requests",
                    "detail": "slow",
                },
                headers=headers,
            )
        return answer

    return route


def test_429_is_a_typed_error_with_retry_after() -> None:
    client, rec = make({("POST", "/v1/jobs"): _limited_then({**JOB}, times=5, retry_after="7")})
    with pytest.raises(RateLimitedError) as info:
        client.train("ds_1", "y", "m")  # creates a job: never retried
    assert info.value.retry_after == 7.0 and info.value.status == 429
    assert isinstance(info.value, errors.ShopfloorError)
    assert len(rec.requests) == 1


def test_idempotent_calls_are_retried_after_retry_after() -> None:
    predicted = {"model": "m", "version": 1, "predictions": []}
    client, rec = make(
        {
            ("GET", "/v1/models/m"): _limited_then({"name": "m"}, times=2),
            ("POST", "/v1/models/m/predict"): _limited_then(predicted, times=1, retry_after=None),
            ("PUT", "/v1/models/m/aliases/production"): _limited_then(
                {"version": 1}, times=1, retry_after="1"
            ),
        }
    )
    waits: list[float] = []
    client._sleep = waits.append
    assert client.get_model("m") == {"name": "m"}
    assert waits == [2.0, 2.0]
    assert client.predict("m", [{"a": 1}])["version"] == 1
    assert waits[2] == client.backoff_s  # no Retry-After: exponential backoff from backoff_s
    assert client.set_alias("m", "production", 1) == {"version": 1}
    assert waits[3] == 1.0
    assert len(rec.requests) == 3 + 2 + 2


def test_retries_are_bounded_by_attempts_and_total_wait() -> None:
    client, rec = make({("GET", "/v1/models/m"): _limited_then({"name": "m"}, times=10, retry_after="1")})
    client._sleep = lambda s: None
    with pytest.raises(RateLimitedError):
        client.get_model("m")
    assert len(rec.requests) == 1 + client.retries
    late = Client(
        URL,
        "k",
        transport=httpx.MockTransport(
            Recorder({("GET", "/v1/models/m"): _limited_then({"name": "m"}, times=1, retry_after="3600")})
        ),
        max_retry_wait_s=10,
    )
    waits: list[float] = []
    late._sleep = waits.append
    with pytest.raises(RateLimitedError) as info:
        late.get_model("m")  # a storage quota: not worth waiting an hour for
    assert info.value.retry_after == 3600.0 and waits == []
    off = Client(
        URL,
        "k",
        transport=httpx.MockTransport(
            Recorder({("GET", "/v1/models/m"): _limited_then({"name": "m"}, times=1)})
        ),
        retries=0,
    )
    with pytest.raises(RateLimitedError):
        off.get_model("m")


def test_score_is_not_retried() -> None:
    client, rec = make({("POST", "/v1/models/m/score"): _limited_then({"results": []}, times=1)})
    client._sleep = lambda s: None
    with pytest.raises(RateLimitedError):
        client.score("m", [{"asset": "a", "t": 1}])
    assert len(rec.requests) == 1


def test_wait_reports_progress_only_when_it_changes() -> None:
    running = {"status": "running", "progress": 0.5, "stage": "training", "message": "seed 1"}
    seq = _job_sequence(
        {"status": "queued"},
        {"status": "queued"},
        running,
        running,
        running,
        {**running, "progress": 0.75},
        {**running, "progress": 0.75},
        {"status": "succeeded", "progress": 1.0, "result": {"model": "m", "version": 1}},
    )
    client, rec = make({("GET", "/v1/jobs/job_1"): seq})
    seen: list[tuple[str, float]] = []
    client.wait("job_1", poll=0, on_progress=lambda j: seen.append((j["status"], j["progress"])))
    assert seen == [("queued", 0.0), ("running", 0.5), ("running", 0.75), ("succeeded", 1.0)]
    assert len(rec.requests) == 8

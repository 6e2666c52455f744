"""The hot routes (predict, stream scoring) dispatched straight to their endpoints answer exactly as
through the framework's router: results, errors as problem+json, headers, request metrics; what
they do not match in full (another method, a trailing slash) still goes to the router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import Api
from shopfloor import metrics
from shopfloor.api.app import create_app
from shopfloor.api.direct import DirectDispatch
from shopfloor.services import streams

MODEL = "kiln"


def _train_kiln(api: Api) -> None:
    rng = np.random.default_rng(2)
    times = pd.date_range("2024-06-01", periods=200, freq="10min").strftime("%Y-%m-%d %H:%M:%S")
    frame = pd.DataFrame({"timestamp": times, "temp": (300 + rng.normal(0, 1, 200)).round(2)})
    up = api.client.post(
        "/v1/datasets",
        files={"file": ("kiln.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": MODEL},
        headers=api.headers("builder"),
    )
    assert up.status_code == 201, up.text
    body = {"type": "train", "task": "series_anomaly", "dataset_id": up.json()["id"], "model_name": MODEL}
    job = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert job.status_code == 202, job.text
    api.run_jobs()


@pytest.fixture
def kiln(api_with: Any) -> Api:
    return api_with(_train_kiln)


@pytest.fixture
def routed(kiln: Api) -> Iterator[TestClient]:
    """The same app, platform and keys, without the direct dispatch: every request through the router."""
    app = create_app(kiln.settings, kiln.platform)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not DirectDispatch]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


POINT = {"timestamp": "2024-06-03 09:20:00", "temp": 331.5}


def _requests(api: Api) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """name -> (method, path, httpx arguments)."""
    score, predict = f"/v1/models/{MODEL}/score", f"/v1/models/{MODEL}/predict"
    body, partial = {"json": {"records": [POINT]}}, {"json": {"records": [{"timestamp": "x"}]}}
    return {
        "predict": ("POST", f"{predict}?version=1", {"headers": api.headers("consumer"), **body}),
        "no production version": ("POST", predict, {"headers": api.headers("consumer"), **body}),
        "score": ("POST", f"{score}?version=1", {"headers": api.headers("consumer"), **body}),
        "no key": ("POST", score, body),
        "unknown key": ("POST", score, {"headers": {"Authorization": "Bearer sfk_nope_nope"}, **body}),
        "role without predict": ("POST", score, {"headers": api.headers("metrics"), **body}),
        "another tenant's model": ("POST", score, {"headers": api.headers("other"), **body}),
        "unknown model": ("POST", "/v1/models/nope/score", {"headers": api.headers(), **body}),
        "bad version": ("POST", f"{score}?version=../1", {"headers": api.headers(), **body}),
        "not JSON": ("POST", score, {"headers": api.headers(), "content": b"{"}),
        "no records": ("POST", predict, {"headers": api.headers(), "json": {"rows": []}}),
        "a point without its value": ("POST", f"{score}?version=1", {"headers": api.headers(), **partial}),
        "another method": ("GET", score, {"headers": api.headers()}),
        "a trailing slash": ("POST", f"{score}/", {"headers": api.headers(), **body}),
    }  # fmt: skip


def _answer(client: TestClient, api: Api, method: str, path: str, args: dict[str, Any]) -> Any:
    if "/score?version=1" in path:  # the same point on a fresh stream each time
        api.client.delete(f"/v1/models/{MODEL}/score/state", headers=api.headers())
    answer = client.request(method, path, follow_redirects=False, **args)
    headers = {k: v for k, v in answer.headers.items() if k not in ("date", "x-request-id", "content-length")}
    return answer.status_code, answer.content, headers, "x-request-id" in answer.headers


def test_the_hot_routes_answer_as_through_the_router(
    kiln: Api, routed: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, int]] = []
    request = metrics.RECORDER.request
    monkeypatch.setattr(
        metrics.RECORDER, "request", lambda m, r, c, s, t: seen.append((m, r, c)) or request(m, r, c, s, t)
    )
    dispatched: list[str] = []
    call = DirectDispatch._call

    async def noted(self: DirectDispatch, route: Any, *args: Any) -> None:
        dispatched.append(route.path)
        await call(self, route, *args)

    monkeypatch.setattr(DirectDispatch, "_call", noted)
    statuses = {}
    for name, (method, path, args) in _requests(kiln).items():
        seen.clear()
        direct = _answer(kiln.client, kiln, method, path, args)
        labels = [s for s in seen if "/state" not in s[1]]
        seen.clear()
        assert direct == _answer(routed, kiln, method, path, args), name
        assert labels == [s for s in seen if "/state" not in s[1]], name  # metrics: route and status
        statuses[name] = direct[0]
    assert statuses == {
        "predict": 200,
        "no production version": 409,
        "score": 200,
        "no key": 401,
        "unknown key": 401,
        "role without predict": 403,
        "another tenant's model": 404,
        "unknown model": 404,
        "bad version": 422,
        "not JSON": 422,
        "no records": 422,
        "a point without its value": 422,
        "another method": 405,
        "a trailing slash": 307,
    }
    assert set(dispatched) == {"/v1/models/{name}/predict", "/v1/models/{name}/score"}
    assert len(dispatched) == 12  # all but another method and the trailing slash


def test_an_unexpected_error_is_a_logged_500_as_through_the_router(
    kiln: Api, routed: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(streams, "score_now", broken)
    method, path, args = _requests(kiln)["score"]
    direct = _answer(kiln.client, kiln, method, path, args)
    assert direct == _answer(routed, kiln, method, path, args)
    assert direct[0] == 500 and b"a bug" not in direct[1]
    assert "a bug" in caplog.text

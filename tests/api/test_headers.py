"""Security headers on every answer, CORS closed unless configured, body limits without Content-Length."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from shopfloor.api.app import create_app

Api = Any


def _assert_secure(response: Any) -> None:
    h = response.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in h["content-security-policy"]


def test_headers_on_every_kind_of_answer(api: Api) -> None:
    for response in [
        api.client.get("/healthz"),
        api.client.get("/v1/models", headers=api.headers()),
        api.client.get("/v1/models"),  # 401
        api.client.get("/v1/keys", headers=api.headers("consumer")),  # 403
        api.client.get("/v1/nothing", headers=api.headers()),  # 404
        api.client.post("/v1/models/x/predict", json={"records": []}, headers=api.headers()),
        api.client.get("/docs"),
    ]:
        _assert_secure(response)
    assert api.client.get("/v1/models", headers=api.headers()).headers["cache-control"] == "no-store"
    assert "cache-control" not in api.client.get("/healthz").headers
    docs_csp = api.client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in docs_csp  # Swagger UI's inline init script
    api_csp = api.client.get("/healthz").headers["content-security-policy"]
    assert api_csp == "default-src 'none'; frame-ancestors 'none'"  # JSON needs nothing loaded


def test_a_route_keeps_its_own_cache_control(api: Api) -> None:
    from shopfloor.api.middleware import MetricsAndLimits

    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"cache-control", b"max-age=5")]}
        )
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    import asyncio

    scope = {"type": "http", "method": "GET", "path": "/v1/x", "headers": []}
    asyncio.run(MetricsAndLimits(app, 10, 10)(scope, None, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"cache-control"] == b"max-age=5" and headers[b"x-frame-options"] == b"DENY"


def test_cors_is_closed_by_default(api: Api) -> None:
    origin = {"Origin": "https://plant.example"}
    response = api.client.get("/v1/models", headers={**api.headers(), **origin})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    preflight = api.client.options("/v1/models", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def _client(api: Api, **settings: Any) -> Iterator[TestClient]:
    app = create_app(api.settings.model_copy(update=settings), api.platform)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_cors_with_an_origin_configured(api: Api) -> None:
    for client in _client(api, cors_origins=["https://plant.example"]):
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        ok = client.options("/v1/models/m/predict", headers={"Origin": "https://plant.example", **ask})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://plant.example"
        _assert_secure(ok)
        bad = client.options("/v1/models/m/predict", headers={"Origin": "https://evil.example", **ask})
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
        simple = client.get("/v1/models", headers={**api.headers(), "Origin": "https://plant.example"})
        assert simple.headers["access-control-allow-origin"] == "https://plant.example"


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


def test_chunked_json_body_over_the_limit_gets_413(api: Api) -> None:
    response = api.client.post(
        "/v1/models/m/predict",
        content=_chunks(11 * 1024 * 1024),
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "urn:shopfloor:problem:payload-too-large"
    _assert_secure(response)
    response = api.client.put(
        "/v1/models/m/aliases/production",
        content=_chunks(11 * 1024 * 1024),
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text


def test_chunked_upload_over_the_limit_gets_413(api: Api) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _chunks(2 * 1024 * 1024)  # the fixture's upload limit is 1 MB
        yield f"\r\n--{boundary}--\r\n".encode()

    response = api.client.post(
        "/v1/datasets",
        content=body(),
        headers={**api.headers("builder"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert api.platform.store.list_datasets("default") == []

    # a small chunked upload still works
    def small() -> Iterator[bytes]:
        yield head + b"a,b\n1,2\n3,4\n" + f"\r\n--{boundary}--\r\n".encode()

    ok = api.client.post(
        "/v1/datasets",
        content=small(),
        headers={**api.headers("builder"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert ok.status_code == 201, ok.text

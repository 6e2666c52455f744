"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs throughput on the predict path)."""

from __future__ import annotations

import json
import time
from typing import Any

from shopfloor import metrics

Scope = dict[str, Any]


class MetricsAndLimits:
    """Counts requests and latency per route template, and refuses bodies over the size limit."""

    def __init__(self, app: Any, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json = max_json_bytes
        # multipart framing adds a little on top of the file itself
        self.max_upload = max_upload_bytes + 64 * 1024

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None:
            content_type = _header(scope, b"content-type") or b""
            limit = self.max_upload if content_type.startswith(b"multipart/") else self.max_json
            if length > limit:
                await _too_large(send, scope, limit)
                return
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.RECORDER.request(scope["method"], route, status["code"], time.perf_counter() - start)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k == name:
            return bytes(v)
    return None


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def _too_large(send: Any, scope: Scope, limit: int) -> None:
    body = json.dumps(
        {
            "type": "urn:shopfloor:problem:payload-too-large",
            "title": "Payload too large",
            "status": 413,
            "detail": f"the request body is larger than the {limit} bytes accepted on this route "
            "(uploads: SHOPFLOOR_MAX_UPLOAD_MB)",
            "instance": scope.get("path"),
            "errors": [],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

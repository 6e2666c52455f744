"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs throughput on the predict path)."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request

from shopfloor import metrics
from shopfloor.api import problems
from shopfloor.errors import PayloadTooLarge

Scope = dict[str, Any]

# API answers (JSON, CSV, PNG) need nothing loaded: the strictest policy, and a short one, since
# these headers go out with every prediction. The docs pages load their scripts from
# /static/docs and run an inline init script; ReDoc starts a worker from a blob: URL.
CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# Console pages: their own script, styles and images only; no inline script, no other origin.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (*_COMMON, (b"content-security-policy", CSP.encode()))
DOCS_HEADERS: tuple[tuple[bytes, bytes], ...] = (*_COMMON, (b"content-security-policy", DOCS_CSP.encode()))
CONSOLE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    *_COMMON,
    (b"content-security-policy", CONSOLE_CSP.encode()),
)
_DOCS_PATHS = ("/docs", "/redoc", "/static/")
NO_STORE = (b"cache-control", b"no-store")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: The header of a request with binary tensors after its JSON (Open Inference Protocol).
BINARY_TENSORS = b"inference-header-content-length"
#: Where the key check leaves the caller's tenant in the ASGI scope, for the request metrics.
TENANT = "shopfloor.tenant"


class MetricsAndLimits:
    """Counts requests and latency per route template, adds the security headers, and refuses
    bodies over the size limit (declared or streamed)."""

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
        limit = 0
        if length is not None or scope["method"] in _BODY_METHODS:
            content_type = _header(scope, b"content-type") or b""
            # files come as multipart, or as binary tensors (Open Inference Protocol: images)
            files = content_type.startswith(b"multipart/") or _header(scope, BINARY_TENSORS) is not None
            limit = self.max_upload if files else self.max_json
            if length is not None and length > limit:
                await _too_large(send, scope, limit)
                return
        state: dict[str, Any] = {"code": 500, "over": False}

        if length is None and limit:
            # No Content-Length (chunked): count what arrives and stop at the limit.
            inner_receive, seen = receive, [0]

            async def receive() -> dict[str, Any]:
                message: dict[str, Any] = await inner_receive()
                if message["type"] == "http.request":
                    seen[0] += len(message.get("body", b""))
                    if seen[0] > limit:
                        state["over"] = True
                        raise PayloadTooLarge(f"the request body is larger than the {limit} bytes accepted")
                return message

        v1 = scope["path"].startswith("/v1")

        async def send_wrapper(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                if state["over"]:
                    # Whatever the app made of the interrupted body (FastAPI turns it into a 400),
                    # the answer is 413.
                    await _too_large(send, scope, limit)
                    state["code"], state["over"] = 413, None
                    return
                state["code"] = message["status"]
                headers = [*message.get("headers", ()), *_policy(scope["path"], message)]
                if v1 and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append(NO_STORE)
                message["headers"] = headers
            elif kind == "http.response.body" and state["over"] is None:
                return  # the 413 has been sent instead
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.RECORDER.request(
                scope["method"], route, state["code"], time.perf_counter() - start, scope.get(TENANT, "")
            )


def _policy(path: str, start: dict[str, Any]) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers of one answer: the docs pages', the console pages' (HTML) or the
    strictest (everything else)."""
    if path.startswith(_DOCS_PATHS):
        return DOCS_HEADERS
    for k, v in start.get("headers", ()):
        if k.lower() == b"content-type":
            return CONSOLE_HEADERS if v.startswith(b"text/html") else SECURITY_HEADERS
    return SECURITY_HEADERS


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
    detail = (
        f"the request body is larger than the {limit} bytes accepted on this route "
        "(uploads: SHOPFLOOR_MAX_UPLOAD_MB)"
    )
    if "app" in scope:  # a protocol's own error shape on its routes (problems.install)
        error = problems.ErrorInfo(413, "payload-too-large", "Payload too large", detail)
        answer = problems.shaped(Request(scope), error)
        if answer is not None:
            answer.raw_headers.extend((*SECURITY_HEADERS, NO_STORE))
            await answer(scope, _nothing, send)
            return
    body = json.dumps(
        {
            "type": "urn:shopfloor:problem:payload-too-large",
            "title": "Payload too large",
            "status": 413,
            "detail": detail,
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
                *SECURITY_HEADERS,
                NO_STORE,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _nothing() -> dict[str, Any]:
    return {"type": "http.disconnect"}  # an answer made before the body is read reads none of it

"""The outermost ASGI layer: a request id for every request, and its span when tracing is on.

The id is the client's ``X-Request-ID`` when that is a sane token (see
:func:`~shopfloor.telemetry.logcontext.request_id_from`), else a new one; it goes back in the
answer's ``X-Request-ID`` header and is bound as the log context of everything the request does
(uvicorn's access line included, which is written while the answer starts). A job the request
queues stores it (:func:`shopfloor.services.queueing.queue`).

This layer wraps Starlette's own error middleware (see :func:`install`), so an answer 500 and the
line that logs its traceback carry the id too.
"""

from __future__ import annotations

from typing import Any

from shopfloor.telemetry.logcontext import REQUEST_ID_HEADER, LogContext, bind, request_id_from, unbind
from shopfloor.telemetry.tracing import Tracing

Scope = dict[str, Any]
_MODEL_ROUTES = ("/v1/models/{name}",)


class RequestContext:
    """Binds the request's log context, sets ``X-Request-ID`` on the answer and, with ``tracing``,
    wraps the request in its span."""

    def __init__(self, app: Any, tracing: Tracing | None = None) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(_header(scope, REQUEST_ID_HEADER))
        echo = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        context = LogContext(request_id=request_id)
        status = [500]

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [
                    *(h for h in message.get("headers", ()) if h[0].lower() != REQUEST_ID_HEADER),
                    echo,
                ]
            await send(message)

        token = bind(context)
        try:
            if self.tracing is None:
                await self.app(scope, receive, send_with_id)
            else:
                await self._traced(self.tracing, scope, receive, send_with_id, context, status)
        finally:
            unbind(token)

    async def _traced(
        self, tracing: Tracing, scope: Scope, receive: Any, send: Any, context: LogContext, status: list[int]
    ) -> None:
        traceparent = _header(scope, b"traceparent")
        span, token = tracing.start_request(
            scope["method"], traceparent.decode("latin-1") if traceparent else None
        )
        try:
            await self.app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", None)
            model = (
                scope.get("path_params", {}).get("name")
                if route and route.startswith(_MODEL_ROUTES)
                else None
            )
            tracing.end_request(
                span,
                token,
                route,
                status[0],
                tenant=context.tenant,
                model=model,
                request_id=context.request_id,
            )


def install(app: Any, tracing: Tracing | None) -> None:
    """Put :class:`RequestContext` around ``app``'s whole middleware stack, error middleware included
    (``add_middleware`` would place it inside Starlette's error middleware)."""
    build = app.build_middleware_stack

    def build_with_context() -> Any:
        return RequestContext(build(), tracing)

    app.build_middleware_stack = build_with_context


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k == name:
            return bytes(v)
    return None

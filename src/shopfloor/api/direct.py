"""Direct dispatch of the hot routes (predict, stream scoring) to their endpoints.

A :class:`~shopfloor.api.routes.predict.DirectRoute` endpoint takes the request and returns a
response itself: no dependencies, no parameter validation, nothing for the framework to do but
find it. Finding it is not free, though: the framework matches the request against every
included router in turn, then wraps the endpoint in its exception layer and two dependency exit
stacks; on the streaming path (one point per call) that costs more than the registry write
(docs/benchmarks.md). :class:`DirectDispatch`, the innermost of the app's middleware (the request
id, metrics, security headers, size limits and CORS layers still wrap it), sends a request that
one of these routes matches in full (path and method) straight to its endpoint, and turns the
errors the app's exception handlers know (problem+json) into their answers by the same handlers.
Anything else goes on to the router as before. The direct routes are included before every other
route (``create_app``), so no other route could have taken such a request first.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

#: The exception handlers the framework keeps for its outermost error layer (unexpected errors):
#: errors that reach them go up to that layer from here too.
_OUTERMOST = (500, Exception)


class DirectDispatch:
    """ASGI middleware: ``routes`` (DirectRoute endpoints) called without the router."""

    def __init__(self, app: ASGIApp, routes: Sequence[APIRoute]) -> None:
        self.app = app
        self.routes = [(r, frozenset(r.methods or ())) for r in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            for route, methods in self.routes:
                if method in methods and (found := route.path_regex.match(path)) is not None:
                    params = {k: route.param_convertors[k].convert(v) for k, v in found.groupdict().items()}
                    scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, params
                    await self._call(route, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _call(self, route: APIRoute, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = _handler(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)


def _handler(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for ``exc`` as the framework's exception layer picks it (status first for
    an HTTP exception, then along the class hierarchy); None for those of the outermost layer."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers and exc.status_code not in _OUTERMOST:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in handlers and cls not in _OUTERMOST:
            return handlers[cls]
    return None

"""The one place where errors become RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from shopfloor.errors import ShopfloorError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


def json_problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:shopfloor:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": errors or [],
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        out.append(
            {
                "loc": [p if isinstance(p, (str, int)) else str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
        )
    return out


def _json_or_form_data(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return not kind or kind.endswith(("/json", "+json")) or kind == "multipart/form-data"


@dataclass(frozen=True)
class ErrorInfo:
    """One error on its way to an answer: what problem+json would say."""

    status: int
    code: str
    title: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)


#: Another shape for an error: ``(request, error)`` -> a response, or None to leave it to the next
#: shape and at last to problem+json. The console answers with pages; the protocols other clients
#: speak (Open Inference Protocol, OpenAI, Azure, AWS) each answer in their own shape on their own
#: routes, because their clients decode nothing else.
ProblemShape = Callable[[Request, ErrorInfo], Response | None]


def shaped(request: Request, error: ErrorInfo) -> Response | None:
    """The answer of the first of the app's other shapes that takes ``error`` for ``request``
    (see :func:`install`); None: problem+json answers."""
    for shape in getattr(request.app.state, "problem_shapes", ()):
        answer = shape(request, error)
        if answer is not None:
            return answer
    return None


def install(app: FastAPI, shapes: Sequence[ProblemShape] = ()) -> None:
    app.state.problem_shapes = tuple(shapes)  # also for answers made outside the handlers (size limit)

    def problem(
        status: int,
        code: str,
        title: str,
        detail: str,
        instance: str | None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        request: Request | None = None,
        **extra: Any,
    ) -> Response:
        if request is not None:
            answer = shaped(request, ErrorInfo(status, code, title, detail, errors or []))
            if answer is not None:
                if headers and status != 401:
                    answer.headers.update(headers)
                return answer
        return json_problem(status, code, title, detail, instance, errors, headers, **extra)

    @app.exception_handler(ShopfloorError)
    async def _shopfloor(request: Request, exc: ShopfloorError) -> Response:
        if exc.status >= 500:
            # Internals are logged, not returned.
            log.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc.detail)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else getattr(exc, "headers", None)
        return problem(
            exc.status, exc.code, exc.title, exc.detail, request.url.path, exc.errors, headers, request,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _clean_errors(exc.errors())
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        detail = f"the request is not valid: {where}"
        content_type = request.headers.get("content-type", "")
        if any(e["loc"] == ["body"] for e in errors) and not _json_or_form_data(content_type):
            # curl -d sends application/x-www-form-urlencoded unless told otherwise
            detail = (
                f"the body was not read as JSON: its Content-Type is {content_type!r}; send "
                f"'Content-Type: application/json' (curl: -H 'Content-Type: application/json'). {detail}"
            )
        return problem(
            422, "invalid-input", "Invalid input", detail, request.url.path, errors, request=request
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
            # FastAPI's JSON parsing gave up on the nesting depth: say so, with the place
            msg = "nested too deeply for a request body"
            return problem(
                422, "invalid-input", "Invalid input", f"the JSON body is {msg}", request.url.path,
                [{"loc": ["body"], "msg": msg, "type": "json_too_deep"}], request=request,
            )
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem(
            exc.status_code,
            f"http-{exc.status_code}",
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            request.url.path,
            headers=getattr(exc, "headers", None),
            request=request,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal-error",
            "Internal error",
            "the server failed to handle this request; the error was logged",
            request.url.path,
            request=request,
        )

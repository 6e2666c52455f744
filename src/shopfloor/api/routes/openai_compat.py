"""OpenAI-compatible embeddings for the hub's text encoders: ``/openai/v1/embeddings`` and
``/openai/v1/models``, for the ``openai`` client and the tools built on it
(``OpenAI(base_url=<server>/openai/v1, api_key=<Shopfloor API key>)``).

The API key is the bearer token, as everywhere; embedding needs the predict permission and listing
models the models-read one, as on ``/v1/hub``. Errors on these routes are OpenAI's
``{"error": {"message", "type", "param", "code"}}`` (:func:`openai_error`), with invalid input as 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from shopfloor.api.deps import HeavyDep, ModelsReader, PlatformDep, Predictor
from shopfloor.api.problems import ErrorInfo
from shopfloor.schemas.openai import (
    EmbeddingsRequest,
    EmbeddingsResponse,
    ErrorResponse,
    ModelList,
    ModelObject,
)
from shopfloor.services import audit
from shopfloor.services import openai_embeddings as service
from shopfloor.settings import hub_cache_dir

PREFIX = "/openai"
_ERRORS = {
    400: "Invalid request (OpenAI's answer to what Shopfloor calls invalid input)",
    401: "Missing or invalid API key",
    403: "The key's role may not do this",
    404: "No such model",
    413: "The body is over its limit",
    429: "Over a rate limit; see Retry-After",
    503: "The server cannot answer now; see Retry-After",
}
router = APIRouter(
    prefix=f"{PREFIX}/v1",
    tags=["openai"],
    responses={
        status: {"model": ErrorResponse, "description": text, "content": {"application/json": {}}}
        for status, text in _ERRORS.items()
    },
)

#: OpenAI's ``code`` for the statuses its clients tell apart; others carry Shopfloor's own code.
_CODES = {401: "invalid_api_key", 403: "permission_denied", 429: "rate_limit_exceeded"}


def openai_error(request: Request, error: ErrorInfo) -> Response | None:
    """Errors under ``/openai`` in OpenAI's shape; None elsewhere (problem+json answers)."""
    path: str = request.scope["path"]
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return None
    status = 400 if error.status == 422 else error.status  # OpenAI answers invalid requests with 400
    code = _CODES.get(status, error.code.replace("-", "_"))
    if status == 404 and path.startswith((f"{PREFIX}/v1/models/", f"{PREFIX}/v1/embeddings")):
        code = "model_not_found"
    body = {
        "message": error.detail,
        "type": "server_error" if status >= 500 else "invalid_request_error",
        "param": _param(error.errors),
        "code": code,
    }
    return JSONResponse({"error": body}, status_code=status)


def _param(errors: list[dict[str, Any]]) -> str | None:
    """The first faulty field as OpenAI names it: ``input``, ``input[2]``, ``dimensions``."""
    for e in errors:
        loc = [p for p in e.get("loc", ()) if p != "body"]
        if loc:
            name = str(loc[0]) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
            return name
    return None


@router.post("/embeddings", response_model=EmbeddingsResponse, summary="Embeddings (OpenAI-compatible)")
async def embeddings(
    body: EmbeddingsRequest, platform: PlatformDep, principal: Predictor, heavy: HeavyDep
) -> Any:
    s = platform.settings
    answer = await heavy.run(
        principal.tenant,
        "embeddings",
        service.embeddings,
        body.input,
        model=body.model,
        encoding_format=body.encoding_format,
        dimensions=body.dimensions,
        variant=s.hub_variant,
        hub_dir=s.hub_dir,
        cache_dir=hub_cache_dir(s),
    )
    audit.buffer(platform).count(principal, f"hub:{body.model}", 0, "embed", len(answer["data"]))
    return answer


@router.get("/models", response_model=ModelList, summary="The text encoders (OpenAI-compatible)")
def list_models(platform: PlatformDep, principal: ModelsReader) -> Any:
    return service.list_models(platform.settings.hub_dir)


@router.get("/models/{model}", response_model=ModelObject, summary="One text encoder (OpenAI-compatible)")
def get_model(model: str, platform: PlatformDep, principal: ModelsReader) -> Any:
    return service.get_model(model, platform.settings.hub_dir)

"""The Open Inference Protocol v2 (REST), as Triton and KServe speak it: ``/v2/...``.

Health, server and model metadata, model readiness and inference, for ``tritonclient.http`` and the
other clients of that protocol. Every route needs the bearer API key; inference needs the predict
permission, model metadata the models-read one, as on ``/v1``. Errors on these routes are
``{"error": "..."}`` (:func:`oip_error`), the shape those clients decode.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from shopfloor.api.deps import Authorizer, ModelsReader, PlatformDep, Predictor, authorize
from shopfloor.api.problems import ErrorInfo
from shopfloor.api.routes.predict import INLINE_RECORDS, VERSION_PATTERN, DirectRoute
from shopfloor.api.routes.views import canary_key, version_param
from shopfloor.schemas.oip import OipError
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import audit
from shopfloor.services import models as models_service
from shopfloor.services import oip as service
from shopfloor.version import __version__

PREFIX = "/v2"
_ERRORS = {
    401: "Missing or invalid API key",
    403: "The key's role may not do this",
    404: "No such model or version in the caller's tenant",
    413: "The body is over its limit",
    415: "A compressed body",
    422: "Invalid input, naming the input or output",
    429: "Over a rate limit or quota; see Retry-After",
    503: "The registry or the artifact store does not answer; see Retry-After",
}
#: These routes answer errors as {"error": ...} (oip_error), not problem+json.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OipError, "description": text} for status, text in _ERRORS.items()
}
#: The health and readiness routes answer 200 with an empty body, as Triton does.
EMPTY: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"description": "Yes (empty body)", "content": {}}},
}
_TAGS: list[str | Enum] = ["open inference protocol"]
router = APIRouter(prefix=PREFIX, tags=_TAGS, responses=ERROR_RESPONSES)
hot = APIRouter(prefix=PREFIX, tags=_TAGS, route_class=DirectRoute, responses=ERROR_RESPONSES)
#: Any valid key, whatever its role: health and server metadata.
Caller = Annotated[Principal, Depends(Authorizer(None))]
VersionPath = Annotated[str, Path(pattern=VERSION_PATTERN, description="A version number or an alias")]
_HEADER_LENGTH = b"inference-header-content-length"
_ENCODING = b"content-encoding"


def oip_error(request: Request, error: ErrorInfo) -> Response | None:
    """Errors under ``/v2`` as ``{"error": detail}``; None elsewhere (problem+json answers)."""
    path: str = request.scope["path"]
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return None
    return JSONResponse({"error": error.detail}, status_code=error.status)


@router.get("/health/live", **EMPTY, summary="Server live (Open Inference Protocol)")
async def live(principal: Caller) -> Response:
    return Response(status_code=200)


@router.get("/health/ready", **EMPTY, summary="Server ready: registry, artifact store and schema revision")
async def ready(platform: PlatformDep, principal: Caller) -> Response:
    await run_in_threadpool(service.server_ready, platform)
    return Response(status_code=200)


@router.get("", summary="Server metadata (Open Inference Protocol)")
async def server_metadata(principal: Caller) -> dict[str, Any]:
    return {"name": service.PLATFORM, "version": __version__, "extensions": ["binary_tensor_data"]}


@router.get("/models/{name}", summary="Model metadata: inputs and outputs (the production version)")
def model_metadata(name: str, platform: PlatformDep, principal: ModelsReader) -> dict[str, Any]:
    return service.metadata(platform, principal.tenant, name, None)


@router.get("/models/{name}/versions/{version}", summary="Model metadata of a version or an alias")
def version_metadata(
    name: str, version: VersionPath, platform: PlatformDep, principal: ModelsReader
) -> dict[str, Any]:
    return service.metadata(platform, principal.tenant, name, version)


@router.get("/models/{name}/ready", **EMPTY, summary="Model ready: loaded and answering per record")
def model_ready(name: str, platform: PlatformDep, principal: Predictor) -> Response:
    service.model_ready(platform, principal.tenant, name, None)
    return Response(status_code=200)


@router.get("/models/{name}/versions/{version}/ready", **EMPTY, summary="Model ready (a version or an alias)")
def version_ready(name: str, version: VersionPath, platform: PlatformDep, principal: Predictor) -> Response:
    service.model_ready(platform, principal.tenant, name, version)
    return Response(status_code=200)


_INFER_OPENAPI: dict[str, Any] = {
    "parameters": [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "Inference-Header-Content-Length",
            "in": "header",
            "required": False,
            "description": "Binary tensor extension: the length of the JSON header; the inputs' bytes follow",
            "schema": {"type": "integer", "minimum": 0},
        },
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": service.REQUEST_SCHEMA}}},
    "security": [{"Authorizer": []}],
}
_VERSION_OPENAPI = {
    **_INFER_OPENAPI,
    "parameters": [
        *_INFER_OPENAPI["parameters"],
        {
            "name": "version",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": VERSION_PATTERN},
        },
    ],
}


@hot.post("/models/{name}/infer", response_model=None, openapi_extra=_INFER_OPENAPI, summary="Infer")
async def infer(request: Request) -> Response:
    """Inference on the model's production version (the /v1 predict path behind it)."""
    return await _infer(request, None)


@hot.post(
    "/models/{name}/versions/{version}/infer",
    response_model=None,
    openapi_extra=_VERSION_OPENAPI,
    summary="Infer with a version or an alias",
)
async def infer_version(request: Request) -> Response:
    return await _infer(request, version_param(request.path_params["version"]))


async def _infer(request: Request, version: str | None) -> Response:
    principal = await authorize(request, Permission.PREDICT)
    platform, name, scope = request.app.state.platform, request.path_params["name"], request.scope
    key = canary_key(scope)
    length, encoding = _headers(scope["headers"])
    body = await request.body()
    prepared = service.prepare(platform, principal.tenant, name, version, body, length, encoding)
    records = prepared.records
    if prepared.table and len(records) <= INLINE_RECORDS:  # the model call may be shared, as on /v1
        result = await models_service.predict_together(
            platform, request.app.state.batcher, principal.tenant, name, version, records, key
        )
    else:  # many records, or images, text and recordings: off the event loop
        result = await run_in_threadpool(
            models_service.predict, platform, principal.tenant, name, version, records, None, key
        )
    audit.buffer(platform).count(principal, name, result["version"], "predict", len(records))
    body, header_length = service.answer(name, prepared, result)
    if header_length is None:
        return Response(body, media_type="application/json")
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header_length)},
    )


def _headers(raw: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """The binary extension's header length and the body's Content-Encoding, from the raw headers."""
    length = encoding = None
    for key, value in raw:
        if key == _HEADER_LENGTH:
            length = value.decode("latin-1")
        elif key == _ENCODING:
            encoding = value.decode("latin-1")
    return length, encoding

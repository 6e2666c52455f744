"""Online predict, explain and rules; batch scoring as a job."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import Explainer, HeavyDep, JobsWriter, ModelsReader, PlatformDep, authorize
from shopfloor.api.routes.views import (
    canary_key,
    job_view,
    multipart_parts,
    parse_records,
    version_param,
)
from shopfloor.schemas.jobs import JobPublic
from shopfloor.schemas.models import ExplainResponse, PredictResponse, RecordsRequest, RulesResponse
from shopfloor.security.roles import Permission
from shopfloor.services import audit
from shopfloor.services import jobs as jobs_service
from shopfloor.services import models as service
from shopfloor.services import parts as parts_service
from shopfloor.tasks import catalog

router = APIRouter(prefix="/v1/models", tags=["predict"])


class DirectRoute(APIRoute):
    """A route whose endpoint takes the request and returns a response itself.

    FastAPI's dependency solving and parameter validation cost more than the model on
    the predict path (docs/benchmarks.md), so this route skips them; its OpenAPI
    description is still generated from the route's declared ``openapi_extra``.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint  # type: ignore[return-value]


hot = APIRouter(prefix="/v1/models", tags=["predict"], route_class=DirectRoute)
VERSION_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
Version = Annotated[
    str | None,
    Query(pattern=VERSION_PATTERN, description="A version number or an alias; default: production"),
]


# Inline below this many records; larger requests go to the thread pool so the event loop stays free.
INLINE_RECORDS = 32


# The predict route reads its path and query parameters itself: FastAPI's per-parameter
# validation and dependency solving cost more than the model on this path (see
# docs/benchmarks.md). The OpenAPI description below documents the same contract.
_FILES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Image models: one file part per image (e.g. -F image=@part.png). Models of "
    "recordings: one part named recording per file (.wav .npy .npz .mat, CSV or Parquet), with "
    "optional sampling_rate (Hz), channels (comma-separated names or name endings) and rpm fields "
    "for all of them; the answers come in part order, each with its file name.",
    "properties": {
        "recording": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "sampling_rate": {"type": "number", "exclusiveMinimum": 0},
        "channels": {"type": "string"},
        "rpm": {"type": "number", "exclusiveMinimum": 0},
    },
    "additionalProperties": {"type": "string", "format": "binary"},
}
#: The path, query and header parameters of the hot routes (predict, stream score).
PREDICT_PARAMETERS: list[dict[str, Any]] = [
    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "version",
        "in": "query",
        "required": False,
        "description": "A version number or an alias; default: production",
        "schema": {"anyOf": [{"type": "string", "pattern": VERSION_PATTERN}, {"type": "null"}]},
    },
    {
        "name": "X-Canary-Key",
        "in": "header",
        "required": False,
        "description": "While the model's challenger runs in canary mode: the key that picks the side "
        "answering (a part or asset id); default: the request id (X-Request-ID)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 256},
    },
]
_PREDICT_OPENAPI: dict[str, Any] = {
    "parameters": PREDICT_PARAMETERS,
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RecordsRequest.model_json_schema()},
            "multipart/form-data": {"schema": _FILES_SCHEMA},
        },
    },
    "security": [{"Authorizer": []}],
}


@hot.post(
    "/{name}/predict",
    response_model=None,
    responses={200: {"model": PredictResponse}},
    openapi_extra=_PREDICT_OPENAPI,
    summary="Predict one or more records",
)
async def predict(request: Request) -> Response:
    principal = await authorize(request, Permission.PREDICT)
    version = version_param(request.query_params.get("version")) if request.scope["query_string"] else None
    platform, name = request.app.state.platform, request.path_params["name"]
    key = canary_key(request.scope)
    if _is_multipart(request):  # one file part per record, read by the model's declared inputs
        parts, fields = await multipart_parts(request)
        records, files = await run_in_threadpool(
            parts_service.part_records, platform, principal.tenant, name, version, parts, fields
        )
        result = await run_in_threadpool(
            service.predict, platform, principal.tenant, name, version, records, files, key
        )
    else:
        records = parse_records(await request.body())
        if len(records) <= INLINE_RECORDS:  # on the event loop; the model call may be shared
            result = await service.predict_together(
                platform, request.app.state.batcher, principal.tenant, name, version, records, key
            )
        else:
            result = await run_in_threadpool(
                service.predict, platform, principal.tenant, name, version, records, None, key
            )
    audit.buffer(platform).count(principal, name, result["version"], "predict", len(records))
    return Response(_to_json(result), media_type="application/json")


#: One encoder for every answer (``json.dumps`` with options builds a new one per call).
_to_json = json.JSONEncoder(separators=(",", ":")).encode


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


#: The explanation methods the families declare (read when the routes are imported).
EXPLAIN_PATTERN = f"^({'|'.join(catalog.explain_methods())})$"


@router.post(
    "/{name}/explain", response_model=ExplainResponse,
    summary="Per-feature contributions (SHAP or LIME); words for text (occlusion); heatmaps for images",
    openapi_extra={"requestBody": _PREDICT_OPENAPI["requestBody"]},
)
async def explain(
    name: str,
    request: Request,
    platform: PlatformDep,
    principal: Explainer,
    heavy: HeavyDep,
    version: Version = None,
    method: Annotated[str, Query(pattern=EXPLAIN_PATTERN)] = "shap",
) -> Any:
    # Explanations can take seconds (LIME): computed in the thread pool, a few at a time per
    # tenant, counted on the event loop. Files sent are read in the same slot.
    multipart = _is_multipart(request)
    records: list[Any] = [] if multipart else parse_records(await request.body())
    files: list[str] | None = None
    async with heavy.slot(principal.tenant, "explanations"):
        if multipart:
            parts, fields = await multipart_parts(request)
            records, files = await run_in_threadpool(
                parts_service.part_records, platform, principal.tenant, name, version, parts, fields
            )
        result = await run_in_threadpool(
            service.explain, platform, principal.tenant, name, version, records, method, files
        )
    audit.buffer(platform).count(principal, name, result["version"], "explain", len(records))
    return result


@router.get(
    "/{name}/rules", response_model=RulesResponse, summary="Readable rules from a surrogate decision tree"
)
def rules(name: str, platform: PlatformDep, principal: ModelsReader, version: Version = None) -> Any:
    return service.rules(platform, principal.tenant, name, version)


@router.post("/{name}/batch", status_code=202, response_model=JobPublic, summary="Score a whole CSV as a job")
async def batch(
    name: str,
    platform: PlatformDep,
    principal: JobsWriter,
    heavy: HeavyDep,
    file: Annotated[UploadFile, File(description="CSV or Parquet with the model's input columns")],
    version: Version = None,
    label_column: Annotated[
        str | None,
        Query(max_length=200, description="anomaly models: a 0/1 column of known events, to evaluate"),
    ] = None,
) -> Any:
    async with heavy.slot(principal.tenant, "batch uploads"):  # the table is read and checked now
        job = await jobs_service.create_batch_job(
            platform, principal, name, version, file, file.filename, label_column
        )
    return job_view(job)

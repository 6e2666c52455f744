"""Online predict, explain and rules; batch scoring as a job."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import Explainer, JobsWriter, ModelsReader, PlatformDep, Predictor
from shopfloor.api.routes.views import job_view, parse_records
from shopfloor.schemas.jobs import JobPublic
from shopfloor.schemas.models import ExplainResponse, PredictResponse, RecordsRequest, RulesResponse
from shopfloor.services import jobs as jobs_service
from shopfloor.services import models as service

router = APIRouter(prefix="/v1/models", tags=["predict"])
Version = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="A version number or an alias; default: production"),
]


# Inline below this many records; larger requests go to the thread pool so the event loop stays free.
INLINE_RECORDS = 32


@router.post(
    "/{name}/predict",
    response_model=None,
    responses={200: {"model": PredictResponse}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RecordsRequest.model_json_schema()}},
        }
    },
    summary="Predict one or more records",
)
async def predict(request: Request, name: str, principal: Predictor, version: Version = None) -> Response:
    # The hot path: the body is parsed and the answer serialised here, without a pydantic
    # round trip; the records are checked against the model's own input schema.
    records = parse_records(await request.body())
    platform = request.app.state.platform
    if len(records) <= INLINE_RECORDS:
        result = service.predict(platform, principal.tenant, name, version, records)
    else:
        result = await run_in_threadpool(service.predict, platform, principal.tenant, name, version, records)
    return Response(json.dumps(result, separators=(",", ":")), media_type="application/json")


@router.post(
    "/{name}/explain", response_model=ExplainResponse, summary="Per-feature contributions (SHAP or LIME)"
)
def explain(
    name: str,
    body: RecordsRequest,
    platform: PlatformDep,
    principal: Explainer,
    version: Version = None,
    method: Annotated[str, Query(pattern="^(shap|lime)$")] = "shap",
) -> Any:
    return service.explain(platform, principal.tenant, name, version, body.records, method)


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
    file: Annotated[UploadFile, File(description="CSV or Parquet with the model's input columns")],
    version: Version = None,
) -> Any:
    job = await jobs_service.create_batch_job(platform, principal.tenant, name, version, file, file.filename)
    return job_view(job)

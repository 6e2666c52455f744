"""Azure Anomaly Detector v1.1 multivariate routes: train, list, read and delete models; batch and
last-point detection (see docs/protocols/azure-anomaly-detector-multivariate.md).

Request bodies are Azure's (field names as the ``azure-ai-anomalydetector`` client sends them);
the work is :mod:`shopfloor.services.azure_multivariate`'s. Errors are in Azure's shape (the
prefix's shape in :mod:`shopfloor.api.routes.azure_common`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopfloor.api.deps import HeavyDep, PlatformDep
from shopfloor.api.routes.azure_common import (
    AZURE_RESPONSES,
    PREFIX,
    AzureModelsReader,
    AzurePredictor,
    SubscriptionKey,
)
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import azure_multivariate as service

router = APIRouter(
    prefix=f"{PREFIX}/multivariate", tags=["azure anomaly detector"], responses=AZURE_RESPONSES
)

# Training and batch detection queue jobs; deleting a model removes a Shopfloor model.
AzureJobsWriter = Annotated[Principal, Depends(SubscriptionKey(Permission.JOBS_WRITE))]
AzureJobsReader = Annotated[Principal, Depends(SubscriptionKey(Permission.JOBS_READ))]
AzureModelsWriter = Annotated[Principal, Depends(SubscriptionKey(Permission.MODELS_WRITE))]


def _enum(value: Any, known: tuple[str, ...]) -> Any:
    """Azure's enums are case-insensitive: the known spelling of ``value`` (left as is if unknown)."""
    if isinstance(value, str):
        for name in known:
            if value.lower() == name.lower():
                return name
    return value


class AlignPolicyIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alignMode: Literal["Inner", "Outer"] | None = Field(None, description="Inner or Outer (default)")
    fillNAMethod: Literal["Previous", "Subsequent", "Linear", "Zero", "Fixed"] | None = Field(
        None, description="How gaps are filled (default Linear)"
    )
    paddingValue: float | None = Field(None, description="The value of fillNAMethod Fixed")

    @field_validator("alignMode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        return _enum(v, ("Inner", "Outer"))

    @field_validator("fillNAMethod", mode="before")
    @classmethod
    def _fill(cls, v: Any) -> Any:
        return _enum(v, ("Previous", "Subsequent", "Linear", "Zero", "Fixed"))


class ModelInfoIn(BaseModel):
    """Azure's ``ModelInfo``: what to train on (read-only fields a client echoes are ignored)."""

    model_config = ConfigDict(extra="ignore")

    dataSource: str = Field(
        min_length=1,
        max_length=2048,
        description="shopfloor://datasets/{id}, or an s3:// or http(s):// URL of a CSV file, a zip of "
        "CSV files or a folder (ending in /) in a bucket one of the tenant's S3 sources serves",
    )
    dataSchema: Literal["OneTable", "MultiTable"] = "OneTable"
    startTime: datetime
    endTime: datetime
    displayName: str | None = Field(None, max_length=24)
    slidingWindow: int = Field(300, ge=28, le=2880)
    alignPolicy: AlignPolicyIn | None = None

    @field_validator("dataSchema", mode="before")
    @classmethod
    def _schema(cls, v: Any) -> Any:
        return "OneTable" if v is None else _enum(v, ("OneTable", "MultiTable"))

    @field_validator("slidingWindow", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        return 300 if v is None else v


class BatchDetectionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataSource: str = Field(min_length=1, max_length=2048)
    topContributorCount: int = Field(10, ge=1, le=300)
    startTime: datetime
    endTime: datetime


class VariableValuesIn(BaseModel):
    variable: str = Field(min_length=1, max_length=200)
    timestamps: list[str] = Field(min_length=1, max_length=10_000)
    values: list[float | None] = Field(min_length=1, max_length=10_000)


class LastDetectionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variables: list[VariableValuesIn] = Field(min_length=1, max_length=300)
    topContributorCount: int = Field(10, ge=1, le=300)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


@router.post("/models", status_code=201, summary="Train a multivariate model (Azure ModelInfo)")
async def train(
    body: ModelInfoIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    principal: AzureJobsWriter,
    heavy: HeavyDep,
) -> Any:
    info = body.model_dump()
    model = await heavy.run(principal.tenant, "model trainings", service.train, platform, principal, info)
    response.headers["Location"] = f"{_base(request)}/multivariate/models/{model.model_id}"
    return service.get_model(platform, principal.tenant, model.model_id)


@router.get("/models", summary="List multivariate models (skip, top and nextLink)")
def list_models(
    request: Request,
    platform: PlatformDep,
    principal: AzureModelsReader,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> Any:
    models, total = service.list_models(platform, principal.tenant, skip, top)
    after = skip + len(models)
    link = f"{_base(request)}/multivariate/models?skip={after}&top={top}" if after < total else None
    return {"models": models, "currentCount": total, "maxCount": service.MAX_MODELS, "nextLink": link}


@router.get("/models/{modelId}", summary="Read a model: status, errors and variable states")
def get_model(modelId: str, platform: PlatformDep, principal: AzureModelsReader) -> Any:  # noqa: N803
    return service.get_model(platform, principal.tenant, modelId)


@router.delete("/models/{modelId}", status_code=204, summary="Delete a model (and its Shopfloor model)")
def delete_model(modelId: str, platform: PlatformDep, principal: AzureModelsWriter) -> Response:  # noqa: N803
    service.delete_model(platform, principal, modelId)
    return Response(status_code=204)


@router.post(
    "/models/{modelId}:detect-batch", status_code=202, summary="Detect anomalies in a data source (a job)"
)
async def detect_batch(
    modelId: str,  # noqa: N803
    body: BatchDetectionIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    principal: AzureJobsWriter,
    heavy: HeavyDep,
) -> Any:
    async with heavy.slot(principal.tenant, "batch detections"):  # the data is read and aligned now
        result = await service.detect_batch(platform, principal, modelId, body.model_dump())
    response.headers["Operation-Location"] = f"{_base(request)}/multivariate/detect-batch/{result.result_id}"
    response.headers["Operation-Id"] = result.result_id
    return service.batch_result(platform, principal.tenant, result.result_id)


@router.get("/detect-batch/{resultId}", summary="A batch detection's status and results")
def batch_result(resultId: str, platform: PlatformDep, principal: AzureJobsReader) -> Any:  # noqa: N803
    return service.batch_result(platform, principal.tenant, resultId)


@router.post("/models/{modelId}:detect-last", summary="Detect whether the last timestamp is an anomaly")
async def detect_last(
    modelId: str,  # noqa: N803
    body: LastDetectionIn,
    platform: PlatformDep,
    principal: AzurePredictor,
    heavy: HeavyDep,
) -> Any:
    variables = [v.model_dump() for v in body.variables]
    return await heavy.run(
        principal.tenant, "last-point detections", service.detect_last, platform, principal, modelId,
        variables, body.topContributorCount,
    )

"""Azure Anomaly Detector v1.1, univariate: entire, last-point and change-point detection.

A drop-in for the retired service's ``timeseries/*/detect`` routes: the same request and answer
fields, the key in ``Ocp-Apim-Subscription-Key`` (a Shopfloor key whose role may predict), errors
as ``{"code", "message"}`` (:mod:`shopfloor.api.routes.azure_common`). Each request is answered
from the series it carries, by the single-series detector (:mod:`shopfloor.services.azure_univariate`),
in the tenant's slots for CPU-heavy work: learning a detector from 8,640 points takes seconds.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import HeavyDep
from shopfloor.api.routes.azure_common import AZURE_RESPONSES, PREFIX, AzurePredictor
from shopfloor.schemas.azure_univariate import (
    UnivariateChangePointDetectionOptions,
    UnivariateChangePointDetectionResult,
    UnivariateDetectionOptions,
    UnivariateEntireDetectionResult,
    UnivariateLastDetectionResult,
)
from shopfloor.services import azure_univariate as service

router = APIRouter(prefix=PREFIX, tags=["azure anomaly detector"], responses=AZURE_RESPONSES)

WHAT = "anomaly detection"


@router.post(
    "/timeseries/entire/detect",
    response_model=UnivariateEntireDetectionResult,
    summary="Detect anomalies in a whole series (Azure Anomaly Detector v1.1)",
)
async def detect_entire(body: UnivariateDetectionOptions, principal: AzurePredictor, heavy: HeavyDep) -> Any:
    return await heavy.run(principal.tenant, WHAT, service.entire, body.model_dump())


@router.post(
    "/timeseries/last/detect",
    response_model=UnivariateLastDetectionResult,
    summary="Detect whether the last point of a series is an anomaly (Azure Anomaly Detector v1.1)",
)
async def detect_last(body: UnivariateDetectionOptions, principal: AzurePredictor, heavy: HeavyDep) -> Any:
    return await heavy.run(principal.tenant, WHAT, service.last, body.model_dump())


@router.post(
    "/timeseries/changepoint/detect",
    response_model=UnivariateChangePointDetectionResult,
    summary="Detect where the level of a series changes (Azure Anomaly Detector v1.1)",
)
async def detect_change_points(
    body: UnivariateChangePointDetectionOptions, principal: AzurePredictor, heavy: HeavyDep
) -> Any:
    return await heavy.run(principal.tenant, WHAT, service.change_points, body.model_dump())

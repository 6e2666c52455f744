"""Forecasts with prediction intervals from a demand-forecasting model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import HeavyDep, PlatformDep, Predictor
from shopfloor.api.routes.predict import Version
from shopfloor.schemas.forecast import ForecastRequest, ForecastResponse
from shopfloor.services import audit
from shopfloor.services import forecasting as service

router = APIRouter(prefix="/v1/models", tags=["predict"])


@router.post(
    "/{name}/forecast",
    response_model=ForecastResponse,
    summary="Point forecasts and prediction intervals per series and period",
    description="For `forecast` models: the next `horizon` periods of each series asked (or all), with "
    "conformal intervals at each level calibrated on the model's backtest.",
)
async def forecast(
    name: str,
    body: ForecastRequest,
    platform: PlatformDep,
    principal: Predictor,
    heavy: HeavyDep,
    version: Version = None,
) -> Any:
    payload = body.model_dump()
    result = await heavy.run(
        principal.tenant, "forecasts", service.forecast, platform, principal.tenant, name, version, payload
    )
    audit.buffer(platform).count(principal, name, result["version"], "forecast", len(result["forecasts"]))
    return result

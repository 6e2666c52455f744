"""Request and answer of ``POST /v1/models/{name}/forecast``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ForecastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    series: list[str | int] | Literal["all"] = Field(
        "all", description='Series ids, or "all" for every series of the model'
    )
    horizon: int | None = Field(
        None, description="Periods ahead (default and most: the horizon the model was trained for)"
    )
    levels: list[float] = Field(
        default_factory=lambda: [80.0, 95.0],
        max_length=10,
        description="Prediction interval levels in percent",
    )


class SeriesForecast(BaseModel):
    series: str
    periods: list[Any] = Field(description="The forecast periods: period numbers or ISO dates")
    forecast: list[float]
    intervals: dict[str, dict[str, list[float]]] = Field(
        description='Per level ("80"): "lower" and "upper" bound per period'
    )
    model: str | None = Field(None, description="Models chosen per series: this series' model")


class ForecastResponse(BaseModel):
    model: str
    version: int
    chosen: str = Field(description="The model the backtest chose (or per_series)")
    horizon: int
    levels: list[float]
    forecasts: list[SeriesForecast]

"""The options a forecast training request may give (``options`` of ``POST /v1/jobs``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions

Candidate = Literal[
    "seasonal_naive", "auto_ets", "theta", "global_gbm", "croston", "imapa", "tsb", "auto_arima"
]


class ForecastOptions(FamilyOptions):
    """Demand forecasting: which columns hold the series, how far ahead, and which models compete."""

    series_column: str = Field(
        "series",
        title="Series column",
        min_length=1,
        description="The column naming each series (product, part number). Default: the one a wide "
        "table's conversion made, else series.",
    )
    time_column: str = Field(
        "time",
        title="Period column",
        min_length=1,
        description="The column of periods (dates or period numbers). Default: the one a wide table's "
        "conversion made, else time.",
    )
    value_column: str = Field(
        "value",
        title="Demand column",
        min_length=1,
        description="The column of demand values. Default: the one a wide table's conversion made, "
        "else value.",
    )
    horizon: int = Field(
        8,
        title="Horizon (periods)",
        ge=1,
        le=1000,
        description="Periods to forecast ahead; also the most a forecast request may ask for.",
    )
    n_windows: int = Field(
        3,
        title="Backtest windows",
        ge=2,
        le=50,
        description="Backtest origins: the models are compared on this many past stretches of horizon "
        "periods (the history must hold them).",
    )
    season_length: int | None = Field(
        None,
        title="Season length (periods)",
        ge=1,
        le=366,
        description="Periods per season (e.g. 52 for weekly data with a yearly pattern). Default: from "
        "the dates' frequency.",
    )
    per_series: bool = Field(
        False,
        title="A model per series",
        description="Choose the best model for each series separately instead of one for all of them.",
    )
    candidates: Annotated[list[Candidate], Field(min_length=1)] | None = Field(
        None,
        title="Models to try",
        description="Models to try (seasonal_naive always runs as the reference): auto_ets, theta, "
        "global_gbm (one boosted model over all series), croston, imapa and tsb (for intermittent "
        "demand), auto_arima. Default: all, cheapest first while the time budget lasts.",
    )
    covariates: list[str] | None = Field(
        None,
        title="Columns known ahead",
        description="Numeric columns known in advance (planned promotions, shifts); rows after a "
        "series' last demand value give their future values.",
    )

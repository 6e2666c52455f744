"""Dataset resource shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ColumnPublic(BaseModel):
    name: str
    type: str = Field(description="numeric, categorical, boolean, datetime, text or id")
    missing: int
    stats: dict[str, Any] = Field(default_factory=dict)
    role: str | None = Field(default=None, description="Sensor datasets: asset, time, setting or sensor")
    series: dict[str, Any] | None = Field(
        default=None,
        description="Sensor datasets: this column's figures (sampling interval, gaps, operating modes, "
        "per-asset counts), dropped, reason and notes",
    )


class PointsPerAsset(BaseModel):
    min: int
    median: float
    max: int


class SeriesInterval(BaseModel):
    value: float | None = Field(description="Median step of the time within assets")
    unit: str = Field(description="cycles (numeric time) or seconds (timestamps)")


class DroppedColumn(BaseModel):
    name: str
    reason: str


class SeriesSummary(BaseModel):
    """A sensor dataset at a glance, derived from its column profiles."""

    asset_column: str
    time_column: str
    settings_columns: list[str]
    assets: int
    points_per_asset: PointsPerAsset
    interval: SeriesInterval
    sensors: list[str] = Field(description="Sensors kept (neither constant nor near-constant)")
    dropped: list[DroppedColumn] = Field(description="Constant or near-constant sensors and settings")
    operating_modes: int | None = Field(description="Modes the settings cluster into; null without settings")
    notes: list[str]


class DatasetPublic(BaseModel):
    id: str
    name: str
    version: int
    rows: int
    sha256: str
    size_bytes: int
    format: str
    columns: list[ColumnPublic]
    series: SeriesSummary | None = Field(default=None, description="Sensor datasets only")
    created_at: datetime


class DatasetList(BaseModel):
    items: list[DatasetPublic]

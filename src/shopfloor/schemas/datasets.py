"""Dataset resource shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ColumnPublic(BaseModel):
    name: str
    type: str = Field(description="numeric, categorical, boolean, datetime, text or id")
    missing: int
    stats: dict[str, Any] = Field(default_factory=dict)
    role: str | None = Field(
        default=None,
        description="Sensor datasets: asset, time, setting or sensor; demand series: series, time, value",
    )
    series: dict[str, Any] | None = Field(
        default=None,
        description="Sensor datasets: this column's figures (sampling interval, gaps, operating modes, "
        "per-asset counts), dropped, reason and notes",
    )
    masking: dict[str, int] | None = Field(
        default=None, description="Personal data masked in this column at upload, per kind"
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


class MaskingSummary(BaseModel):
    totals: dict[str, int] = Field(description="Masked values per kind over the whole table")
    columns: dict[str, dict[str, int]] = Field(description="Masked values per kind, per column")


class MaskingPolicyBody(BaseModel):
    """A tenant's masking rules; the built-in detectors (e-mail, phone, IBAN) always apply."""

    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field(default_factory=list, description="Person names to mask (case-insensitive)")
    patterns: list[dict[str, str]] = Field(
        default_factory=list, description='Extra rules: [{"name": "BADGE", "regex": "B-\\d{5}"}]'
    )
    reversible: bool = Field(False, description="Stable pseudonyms whose mapping is kept, sealed")


class MaskPreviewRequest(BaseModel):
    text: str = Field(max_length=10000)


class MaskPreview(BaseModel):
    text: str
    counts: dict[str, int]
    spans: list[dict[str, Any]]


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
    masking: MaskingSummary | None = Field(
        default=None, description="Personal data masked at upload (null when nothing was found)"
    )
    conversion: dict[str, Any] | None = Field(
        default=None,
        description="Wide tables: how they were made long (series column, period columns, dropped "
        "columns, rows before and after)",
    )
    created_at: datetime


class DatasetList(BaseModel):
    items: list[DatasetPublic]

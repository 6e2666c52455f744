"""Prediction log, feedback and live performance shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from shopfloor.schemas.common import MAX_INT


class LogSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = Field(
        ge=0.0,
        le=1.0,
        description="Share of the model's predictions logged, from 0 (none, the default) to 1 (every one); "
        "each answer is drawn at this rate, so 0.1 logs about one in ten.",
    )


class LogSettingsPublic(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    rate: float
    retention_days: int = Field(description="Days logged predictions are kept (the tenant's retention).")


class RetentionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int | None = Field(
        ge=1, le=3650, description="Days logged predictions and their feedback are kept; null: the default."
    )


class RetentionPublic(BaseModel):
    tenant: str
    retention_days: int = Field(description="In force: the tenant's own, else the server default.")
    own: int | None
    default: int


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record_id: str | None = Field(None, max_length=64, description="A logged prediction's id (the export's).")
    request_id: str | None = Field(
        None, max_length=128, description="Or: the X-Request-ID of the request that made the prediction."
    )
    index: int | None = Field(
        None, ge=0, le=MAX_INT, description="With request_id: the record's index in that request."
    )
    outcome: JsonValue = Field(
        description="The truth: a class label (classifiers), a number (regression, remaining life) or the "
        "numbers step by step (forecast demand), true or false (anomaly alarms)."
    )


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[FeedbackItem] = Field(min_length=1, max_length=10_000)


class FeedbackResult(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    kind: str = Field(description="The kind of outcome the model's task takes: label, value or alarm.")
    accepted: int
    records: list[str] = Field(description="The record ids the outcomes were stored for.")


class PerformanceWindow(BaseModel):
    start: datetime | None
    end: datetime | None
    predictions: int = Field(description="Logged predictions in the window.")
    outcomes: int = Field(description="Of those, how many have an outcome fed back.")
    realised: dict[str, float | None] | None = Field(description="The live metrics from the outcomes.")
    estimated: dict[str, float | None] | None = Field(
        description="Precision, recall and F1 estimated without outcomes (CBPE), where available."
    )


class PerformancePublic(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    version: int
    task: str
    kind: str
    window: dict[str, Any]
    metrics: list[str]
    lower_is_better: list[str]
    baseline: dict[str, float | None] = Field(description="The training report's hold-out figures.")
    estimation: dict[str, Any]
    windows: list[PerformanceWindow]

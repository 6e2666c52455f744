"""Job resource shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    type: Literal["train"] = "train"
    task: str = Field(
        description="tabular_classification, tabular_regression, rul, anomaly or text_classification"
    )
    dataset_id: str
    target: str | None = Field(
        None, description="The column to predict; rul derives its target and anomaly needs none"
    )
    exclude: list[str] = Field(default_factory=list)
    asset_column: str | None = Field(
        None, description="rul, anomaly: the asset id column (default: the one named at upload)"
    )
    time_column: str | None = Field(
        None, description="rul, anomaly: the time or cycle column (default: the one named at upload)"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Hyper-parameters of the task family, e.g. {\"cap\": 125} for rul, "
        "{\"text_column\": \"note\", \"label_separator\": \"|\"} for text_classification or "
        "{\"false_alarm_rate\": 0.01} for anomaly",
    )
    model_name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    metric: str | None = None
    time_budget_s: float | None = Field(None, gt=0, le=86400)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class JobPublic(BaseModel):
    id: str
    type: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float
    stage: str | None = None
    message: str | None = None
    error: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobList(BaseModel):
    items: list[JobPublic]

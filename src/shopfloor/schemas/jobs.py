"""Job resource shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    type: Literal["train"] = "train"
    task: str = Field(description="tabular_classification or tabular_regression")
    dataset_id: str
    target: str
    exclude: list[str] = Field(default_factory=list)
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

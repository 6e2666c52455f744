"""Drift check and training-profile shapes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DriftFinding(BaseModel):
    """One variable (an input, a model output, or the inputs together) compared with training."""

    name: str
    kind: str = Field(description="numeric, categorical, embedding or together")
    role: str = Field(description="input, output or together")
    test: str = Field(description="ks, chi2, mmd, domain_classifier or reconstruction")
    statistic: float | None = None
    p_value: float | None = Field(None, description="The test's own p-value")
    p_adjusted: float | None = Field(None, description="Holm-adjusted over every test of the window")
    distance: float | None = Field(
        None, description="Effect size in [0, 1]: how much of the distribution moved"
    )
    drifted: bool
    sentence: str = Field(description="The finding in words")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Both sides' summaries and extra figures"
    )


class DriftProfileSource(BaseModel):
    source: str
    created_at: str
    rows: int


class DriftResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    version: int
    rows: int = Field(description="Rows in the window")
    drifted: bool
    summary: str
    inputs: list[DriftFinding] = Field(description="Drifted inputs first, then by distance")
    outputs: list[DriftFinding] = Field(description="The model's outputs, ranked the same way")
    together: list[DriftFinding] = Field(description="Domain classifier and reconstruction error")
    thresholds: dict[str, Any]
    warnings: list[str] = Field(default_factory=list)
    profile: DriftProfileSource


class DriftRequest(BaseModel):
    """A window of rows: JSON records as predict takes them, or one of the tenant's datasets."""

    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Any]] | None = None
    dataset_id: str | None = Field(None, max_length=200)


class DriftProfileResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    version: int
    rows: int = Field(description="Training rows profiled")
    source: str = Field(description="training, or where an on-demand profile was computed from")
    created_at: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    together: dict[str, Any] | None = None
    skipped: list[dict[str, Any]] = Field(default_factory=list, description="What is not compared, and why")

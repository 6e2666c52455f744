"""Drift check and training-profile shapes."""

from __future__ import annotations

from datetime import datetime
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


class TimelineFinding(BaseModel):
    """One variable of one window: how far it moved, and whether that counts as drift."""

    name: str
    role: str = Field(description="input, output or together")
    test: str
    distance: float | None = None
    p_adjusted: float | None = None
    drifted: bool
    sentence: str
    column: str | None = Field(None, description="Inputs: the column the variable is measured on")


class TimelineWindow(BaseModel):
    start: datetime | None = Field(description="The window's start (of time), or its first prediction's time")
    end: datetime | None = Field(description="The window's end (of time), or its last prediction's time")
    predictions: int = Field(description="Predictions logged in the window (failed calls apart)")
    checked: bool = Field(description="False when the window holds too few logged predictions")
    rows: int = Field(description="Logged predictions compared (at most 5,000, spread over the window)")
    drifted: bool | None = None
    score: float | None = Field(None, description="The largest distance over the inputs (the alert signal)")
    summary: str
    findings: list[TimelineFinding] = Field(description="Drifted first, then by distance")


class DriftTimelineResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    version: int
    window: dict[str, Any] = Field(description="text, and count (predictions) or seconds per window")
    thresholds: dict[str, Any]
    windows: list[TimelineWindow] = Field(description="Oldest first")

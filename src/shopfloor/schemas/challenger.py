"""A model's challenger: its mode, the comparison report, promotion."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.schemas.common import MAX_INT


class ChallengerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["off", "shadow", "canary"] = Field(
        description="off: the champion alone; shadow: the challenger also runs on every request, off the "
        "request path, and is only recorded; canary: the challenger answers `share` of the requests."
    )
    share: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Canary mode only: the part of requests the challenger answers (0 to 1), picked by a "
        "hash of X-Canary-Key, else of the request id (a retry with the same id lands on the same side).",
    )
    version: int | None = Field(
        None, ge=1, le=MAX_INT, description="Point the challenger alias at this version first (optional)."
    )


class ChallengerPublic(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    mode: str
    share: float
    champion: int | None = Field(description="The version behind production.")
    challenger: int | None = Field(description="The version behind the challenger alias.")
    updated_at: datetime | None
    updated_by: str | None = Field(description="The API key that set the mode.")
    routes: list[str] = Field(description="The requests a running challenger takes part in.")


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(
        ge=1, le=MAX_INT, description="The challenger version the caller saw (refused if it changed since)."
    )
    champion: int | None = Field(
        None, ge=1, le=MAX_INT, description="The production version the caller saw (refused if it moved)."
    )


class PromoteResult(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    production: int = Field(description="The version now behind production: the challenger's.")
    previous: int | None = Field(description="The version behind production before.")
    mode: str


class LatencyFigures(BaseModel):
    p50: float | None
    p95: float | None
    requests: int


class ComparisonWindow(BaseModel):
    start: datetime
    end: datetime
    compared: int = Field(description="Records answered by both sides in the window.")
    outcomes: int = Field(description="Of those, how many have an outcome fed back.")
    agreement: float | None = Field(description="The headline agreement measure in the window.")
    champion: float | None = Field(description="The champion's headline metric on the outcomes.")
    challenger: float | None = Field(description="The challenger's headline metric on the outcomes.")


class ChallengerReport(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model: str
    task: str
    kind: str | None = Field(description="The kind of outcome the task declares: label, value or alarm.")
    mode: str
    share: float
    champion: int
    challenger: int
    since: datetime
    until: datetime
    window: dict[str, Any]
    compared: dict[str, Any] = Field(
        description="requests and records answered by both sides, requests served by the challenger, answers "
        "of one side only (unpaired) and answers of other versions in the span."
    )
    agreement: dict[str, Any] = Field(
        description="measure (same_class, mean_abs_difference or alarm_agreement), its value, and every "
        "measure of the kind (correlation of values; alarms raised by one side only)."
    )
    metrics: dict[str, Any] = Field(description="Each side's live metrics on the records with an outcome.")
    latency_ms: dict[str, LatencyFigures] = Field(description="Each side's model latency per request.")
    windows: list[ComparisonWindow]
    recommendation: dict[str, Any] = Field(
        description="promote (true or false) and the reason, in a sentence."
    )

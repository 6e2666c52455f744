"""Alert rule, state and webhook delivery shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.schemas.common import MAX_INT

Signal = Literal["drift_score", "estimated_metric", "realised_metric", "error_rate", "latency_p99_ms"]
Comparison = Literal[">", ">=", "<", "<="]
Severity = Literal["info", "warning", "critical"]
State = Literal["ok", "pending", "firing"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
MAX_S = 30 * 86400


class _RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        None,
        ge=1,
        le=MAX_INT,
        description="Watch this version; default: the production alias (else the latest).",
    )
    input: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="drift_score only: this input's score, not the largest.",
    )
    metric: str | None = Field(
        None, max_length=32, description="estimated_metric / realised_metric: the metric, e.g. f1, rmse."
    )
    targets: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="Webhook URLs (http or https) on hosts the operator allows; none: Prometheus only.",
    )


class AlertRuleCreate(_RuleFields):
    name: str = Field(min_length=1, max_length=100, pattern=NAME, description="Unique in the tenant.")
    model: str = Field(min_length=1, max_length=100, pattern=NAME)
    signal: Signal
    comparison: Comparison = Field(description="The rule fires when `value <comparison> bound` holds.")
    bound: float = Field(allow_inf_nan=False)
    window_s: int = Field(
        900, ge=60, le=MAX_S, description="The signal is read over the last window_s seconds."
    )
    for_s: int = Field(0, ge=0, le=MAX_S, description="The breach must last this long before the rule fires.")
    severity: Severity = "warning"
    enabled: bool = True


class AlertRuleUpdate(BaseModel):
    """Only the fields given change; ``targets`` replaces the whole list."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100, pattern=NAME)
    model: str | None = Field(None, min_length=1, max_length=100, pattern=NAME)
    version: int | None = Field(None, ge=1, le=MAX_INT)
    signal: Signal | None = None
    input: str | None = Field(None, min_length=1, max_length=200)
    metric: str | None = Field(None, max_length=32)
    comparison: Comparison | None = None
    bound: float | None = Field(None, allow_inf_nan=False)
    window_s: int | None = Field(None, ge=60, le=MAX_S)
    for_s: int | None = Field(None, ge=0, le=MAX_S)
    severity: Severity | None = None
    enabled: bool | None = None
    targets: list[str] | None = Field(None, max_length=5)


class AlertStatePublic(BaseModel):
    rule_id: str
    rule: str
    model: str
    severity: Severity
    enabled: bool
    state: State
    since: datetime
    value: float | None = Field(None, description="The last value read; null when unknown.")
    version: int | None = Field(None, description="The model version last evaluated.")
    note: str | None = Field(None, description="Why the value is unknown, if it is.")
    evaluated_at: datetime | None = None


class AlertRulePublic(BaseModel):
    id: str
    name: str
    model: str
    version: int | None
    signal: Signal
    input: str | None
    metric: str | None
    comparison: Comparison
    bound: float
    window_s: int
    for_s: int
    severity: Severity
    enabled: bool
    targets: list[str]
    created_at: datetime
    updated_at: datetime
    state: AlertStatePublic


class AlertRuleCreated(AlertRulePublic):
    secret: str = Field(description="The webhook signing secret; shown once, store it now.")


class AlertRuleList(BaseModel):
    items: list[AlertRulePublic]


class AlertStateList(BaseModel):
    items: list[AlertStatePublic]


class AlertDeliveryPublic(BaseModel):
    id: str
    rule_id: str
    event: Literal["firing", "resolved", "test"]
    target: str = Field(description="The target's host:port (the URL is not shown: it may hold a token).")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None = None
    created_at: datetime
    finished_at: datetime | None = None
    log: list[dict[str, Any]] = Field(description="One entry per attempt: status, error, address, ms.")
    message: str | None = None


class AlertDeliveryList(BaseModel):
    items: list[AlertDeliveryPublic]

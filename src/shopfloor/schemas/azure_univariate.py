"""Requests and answers of the Azure Anomaly Detector v1.1 univariate routes, in that API's field names.

Only the types are checked here; the API's own rules (how many points, granularities, ranges) are
checked by :mod:`shopfloor.services.azure_univariate`, which answers with that API's error codes.
Fields the API does not know are ignored, as the Azure service ignored them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_POINTS = 8640


class TimeSeriesPoint(BaseModel):
    timestamp: str | None = Field(
        None, description="ISO 8601 date/time of the point; may be absent when granularity is none"
    )
    value: float = Field(description="The measurement")


class _Series(BaseModel):
    series: list[TimeSeriesPoint] | None = Field(
        None,
        max_length=100_000,
        description=f"The points, ascending in time, no timestamp twice: 12 to {MAX_POINTS}",
    )
    granularity: str | None = Field(
        None,
        description="yearly, monthly, weekly, daily, hourly, minutely, secondly, microsecond or none "
        "(none: timestamps may be absent and points are taken as evenly spaced)",
    )
    customInterval: int | None = Field(
        None, description="Points are this many granularity units apart (5 with minutely: 5 minutes)"
    )
    period: int | None = Field(
        None, description="The seasonal period in points; absent: a daily or weekly one is looked for"
    )


class UnivariateDetectionOptions(_Series):
    """``POST .../timeseries/entire/detect`` and ``.../timeseries/last/detect``."""

    maxAnomalyRatio: float | None = Field(
        None, description="Most of the points that may be flagged, above 0 and at most 0.5 (default 0.25)"
    )
    sensitivity: int | None = Field(
        None, description="0 to 99 (default 95): higher narrows the band and flags more points"
    )
    imputeMode: str | None = Field(
        None, description="Missing points on the grid: auto (linear), previous, linear, fixed, zero, notFill"
    )
    imputeFixedValue: float | None = Field(None, description="The value filled in with imputeMode fixed")


class UnivariateChangePointDetectionOptions(_Series):
    """``POST .../timeseries/changepoint/detect``."""

    stableTrendWindow: int | None = Field(
        None, description="The fewest points between two change points (default 10)"
    )
    threshold: float | None = Field(
        None, description="The confidence a change point needs, between 0 and 1 (default 0.99)"
    )


class UnivariateEntireDetectionResult(BaseModel):
    period: int = Field(description="The seasonal period used, in points (0: none)")
    expectedValues: list[float]
    upperMargins: list[float] = Field(description="expectedValue + upperMargin is the band's top")
    lowerMargins: list[float] = Field(description="expectedValue - lowerMargin is the band's bottom")
    isAnomaly: list[bool]
    isNegativeAnomaly: list[bool]
    isPositiveAnomaly: list[bool]
    severity: list[float] = Field(description="0 for normal points, else from 0.5 (on the band) towards 1")


class UnivariateLastDetectionResult(BaseModel):
    period: int
    suggestedWindow: int = Field(description="Points to send for the next last-point detection")
    expectedValue: float
    upperMargin: float
    lowerMargin: float
    isAnomaly: bool
    isNegativeAnomaly: bool
    isPositiveAnomaly: bool
    severity: float


class UnivariateChangePointDetectionResult(BaseModel):
    period: int
    isChangePoint: list[bool] = Field(description="True where a new level starts")
    confidenceScores: list[float] = Field(description="The confidence of a level change at each point")

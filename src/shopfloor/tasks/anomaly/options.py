"""The options an anomaly training request may give (``options`` of ``POST /v1/jobs``).

The asset, time and sensor columns are fields of the request itself, not options.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions

Candidate = Literal["mahalanobis", "pca", "regression"]


class AnomalyOptions(FamilyOptions):
    """Sensor anomaly detection: how often it may raise a false alarm and what makes an event."""

    false_alarm_rate: float = Field(
        0.01,
        title="False alarm rate",
        gt=0,
        lt=0.5,
        description="Share of normal readings allowed to score above the alarm threshold (0.01: one "
        "in a hundred). Lower means fewer false alarms and later detection.",
    )
    window: int = Field(
        10,
        title="Smoothing window (readings)",
        ge=1,
        description="Readings in each sensor's trailing mean: larger smooths out noise, smaller reacts "
        "faster.",
    )
    min_event_points: int = Field(
        3,
        title="Readings per event",
        ge=1,
        description="Consecutive flagged readings that raise an event; single spikes below this count "
        "are ignored.",
    )
    candidates: Annotated[list[Candidate], Field(min_length=1)] | None = Field(
        None,
        title="Detectors to compare",
        description="Detector families to compare, each at most once: mahalanobis (distance from "
        "normal operation), pca (readings that break the usual correlations), regression (each sensor "
        "predicted from the others). Default: all three.",
    )

"""Frozen entities of the Azure Anomaly Detector multivariate facade: its models and batch results.

An Azure model is a Shopfloor model trained by an ordinary training job; the entity maps the
Azure ``modelId`` to that model, its job and the dataset it learned from, and keeps the request
as the client sent it. A batch result maps an Azure ``resultId`` to the batch scoring job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AzureModel:
    """An Azure multivariate model: ``info`` is the training request (dataSource, dataSchema,
    startTime, endTime, displayName, slidingWindow, alignPolicy); ``variable_states`` the states
    of the aligned training variables."""

    tenant: str
    model_id: str
    model: str
    job_id: str
    dataset_id: str
    info: dict[str, Any]
    variable_states: list[dict[str, Any]]
    created_at: datetime


@dataclass(frozen=True)
class AzureResult:
    """An Azure batch detection: ``setup`` is the request (dataSource, topContributorCount,
    startTime, endTime); ``variable_states`` those of the aligned variables scored."""

    tenant: str
    result_id: str
    model_id: str
    job_id: str
    setup: dict[str, Any]
    variable_states: list[dict[str, Any]]
    created_at: datetime

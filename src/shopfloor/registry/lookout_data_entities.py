"""Frozen entities of the Lookout for Equipment facade's data side: datasets (a name and a schema
mapped to the Shopfloor datasets its ingestions produce), ingestion jobs (a Shopfloor job and the
S3 input it read), label groups and labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The ratings a label may carry.
RATINGS = ("ANOMALY", "NO_ANOMALY", "NEUTRAL")


@dataclass(frozen=True)
class LookoutDataset:
    tenant: str
    name: str
    #: The InlineDataSchema as given (``{"Components": [{"ComponentName", "Columns": [...]}]}``).
    schema: dict[str, Any]
    client_token: str
    created_at: datetime
    updated_at: datetime
    tags: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class LookoutIngestion:
    """One StartDataIngestionJob: its id is the Shopfloor job's, which holds its state and result."""

    id: str
    tenant: str
    dataset: str
    bucket: str
    prefix: str
    key_pattern: str | None
    role_arn: str
    client_token: str
    created_at: datetime


@dataclass(frozen=True)
class LabelGroup:
    tenant: str
    name: str
    fault_codes: list[str]
    client_token: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Label:
    id: str
    tenant: str
    group: str
    start: datetime
    end: datetime
    rating: str
    client_token: str
    created_at: datetime
    fault_code: str | None = None
    notes: str | None = None
    equipment: str | None = None

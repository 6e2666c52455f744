"""Frozen domain entities the store returns (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
ROLES = ("admin", "builder", "consumer", "metrics")


@dataclass(frozen=True)
class Tenant:
    id: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    role: str
    name: str | None
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Dataset:
    id: str
    tenant: str
    name: str
    version: int
    rows: int
    sha256: str
    size_bytes: int
    format: str
    columns: list[dict[str, Any]]
    artifact: str
    created_at: datetime
    signature: str | None = None


@dataclass(frozen=True)
class Job:
    id: str
    tenant: str
    type: str
    status: str
    params: dict[str, Any]
    progress: float
    stage: str | None
    message: str | None
    error: str | None
    result: dict[str, Any] | None
    cancel_requested: bool
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    request_id: str | None = None
    trace_context: dict[str, str] | None = None
    attempts: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class ModelVersion:
    tenant: str
    model: str
    version: int
    task: str
    status: str
    report: dict[str, Any]
    input_schema: list[dict[str, Any]]
    files: dict[str, str]  # file name -> sha256
    artifact: str  # storage prefix
    lineage: dict[str, Any]
    job_id: str | None
    created_at: datetime
    aliases: tuple[str, ...] = field(default=())
    signature: str | None = None


@dataclass(frozen=True)
class Model:
    tenant: str
    name: str
    task: str
    created_at: datetime
    latest_version: int
    aliases: dict[str, int]
    description: str = ""


@dataclass(frozen=True)
class TenantKey:
    tenant: str
    wrapped_key: bytes
    master_key_id: str
    created_at: datetime
    rotated_at: datetime | None = None


@dataclass(frozen=True)
class Quotas:
    """A tenant's own limits; ``None`` means the server default from settings."""

    tenant: str
    requests_per_minute: int | None = None
    key_requests_per_minute: int | None = None
    max_concurrent_jobs: int | None = None
    max_storage_bytes: int | None = None


@dataclass(frozen=True)
class AuditEvent:
    tenant: str
    action: str
    outcome: str = "ok"
    key_id: str | None = None
    role: str | None = None
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    id: int | None = None


class Swap(Enum):
    """What a compare-and-swap of stream states did (``StreamStore.swap_stream_states``)."""

    #: Every row held the state expected of it; each now holds its new state.
    DONE = "done"
    #: A row holds another state (another process went on with the stream, or it was reset or
    #: trimmed): nothing was written.
    STALE = "stale"
    #: Not tried, because it would have had to wait (``wait=False``): nothing was written.
    LATER = "later"

"""Frozen domain entities the store returns (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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


#: The alias naming a model's challenger (the version run beside the champion in shadow or canary).
CHALLENGER_ALIAS = "challenger"
#: How a challenger is run: not at all, beside every request (shadow), answering a share (canary).
CHALLENGER_MODES = ("off", "shadow", "canary")


@dataclass(frozen=True)
class ChallengerSetting:
    """How a model's challenger runs: ``mode`` (off, shadow or canary), the share of requests it answers
    in canary mode (0 otherwise), the versions behind ``production`` (the champion) and behind the
    ``challenger`` alias (None where the alias is not set), and when and by which key the mode was set."""

    tenant: str
    model: str
    mode: str
    share: float
    champion: int | None
    challenger: int | None
    updated_at: datetime | None = None
    updated_by: str | None = None

"""Frozen domain entities the store returns (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
ROLES = ("admin", "builder", "consumer", "metrics")
#: The alias a caller that names no version is served by.
PRODUCTION = "production"


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
class AccessKey:
    """An AWS-style access key pair issued for one API key: requests signed with it (SigV4) act as
    that API key. ``sealed_secret`` is the secret encrypted under the tenant's data key (the server
    recomputes signatures, so it keeps the secret itself, never in clear); ``active`` is the API
    key's state: revoking the API key revokes its access keys."""

    id: str
    tenant: str
    api_key_id: str
    sealed_secret: bytes
    created_at: datetime
    active: bool = True


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


ALERT_STATES = ("ok", "pending", "firing")
#: What a rule says (as the API shows and takes it), apart from its id, tenant, sealed parts and times.
ALERT_RULE_FIELDS = (
    "name",
    "model",
    "version",
    "signal",
    "input",
    "metric",
    "comparison",
    "bound",
    "window_s",
    "for_s",
    "severity",
    "enabled",
)
DELIVERY_STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class AlertRule:
    """A rule on one model: ``signal`` (of ``input`` or ``metric`` where it takes one) compared
    with ``bound`` over the last ``window_s`` seconds, firing once it has held for ``for_s``.

    ``version`` None follows the model's production alias (else its latest version). The webhook
    secret and target URLs are sealed (encrypted with the tenant's key) by the caller.
    """

    id: str
    tenant: str
    name: str
    model: str
    version: int | None
    signal: str
    input: str | None
    metric: str | None
    comparison: str
    bound: float
    window_s: int
    for_s: int
    severity: str
    enabled: bool
    target_hosts: tuple[str, ...]
    sealed_secret: bytes = field(repr=False)
    sealed_targets: bytes = field(repr=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AlertState:
    """Where a rule stands: ``state`` since ``since``, the last value evaluated and of which version,
    and ``revision``, which every change moves (the conditional updates compare it)."""

    rule_id: str
    tenant: str
    state: str
    since: datetime
    value: float | None
    version: int | None
    note: str | None
    evaluated_at: datetime | None
    next_eval_at: datetime
    revision: int


@dataclass(frozen=True)
class NewDelivery:
    """A webhook to queue: its payload, for one target (the URL sealed with the tenant's key)."""

    id: str
    event: str
    sealed_target: bytes = field(repr=False)
    target_host: str
    payload: dict[str, Any]
    max_attempts: int


@dataclass(frozen=True)
class AlertDelivery:
    """A queued or finished webhook; ``log`` holds one entry per attempt made."""

    id: str
    tenant: str
    rule_id: str
    event: str
    target_host: str
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    log: tuple[dict[str, Any], ...]
    created_at: datetime
    finished_at: datetime | None
    sealed_target: bytes = field(repr=False, default=b"")
    lease: str | None = None


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


class Swap(Enum):
    """What a compare-and-swap of stream states did (``StreamStore.swap_stream_states``)."""

    #: Every row held the state expected of it; each now holds its new state.
    DONE = "done"
    #: A row holds another state (another process went on with the stream, or it was reset or
    #: trimmed): nothing was written.
    STALE = "stale"
    #: Not tried, because it would have had to wait (``wait=False``): nothing was written.
    LATER = "later"

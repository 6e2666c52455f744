"""SQLAlchemy table mappings. Only :mod:`shopfloor.registry.sql` and the migrations use them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class TenantRow(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class KeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class AccessKeyRow(Base):
    """AWS-style access keys (SigV4) of API keys; the secret sealed with the tenant's data key."""

    __tablename__ = "aws_access_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("tenant", "name", "version"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    columns: Mapped[list[Any]] = mapped_column(JSON)
    artifact: Mapped[str] = mapped_column(String(500))
    signature: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Bytes the job keeps in the artifact store (a batch input and its scored result): storage quota.
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The id of the request that queued the job, and its W3C trace context: the job's log lines and
    # span carry them, so one request can be followed into the job it started.
    request_id: Mapped[str | None] = mapped_column(String(128))
    trace_context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Runs claimed so far: 1 once started; 2 after a job handed back on shutdown, or a retry of a
    # run whose worker died.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("tenant", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    task: Mapped[str] = mapped_column(String(64))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_schema: Mapped[list[Any]] = mapped_column(JSON)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact: Mapped[str] = mapped_column(String(500))
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str | None] = mapped_column(String(128))
    job_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Bytes of the version's artifact files as stored (sealed): counted in the storage quota.
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class AliasRow(Base):
    __tablename__ = "model_aliases"
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class TenantKeyRow(Base):
    """A tenant's data key, wrapped (encrypted) by the master key named by ``master_key_id``."""

    __tablename__ = "tenant_keys"
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime)


class QuotaRow(Base):
    """Per-tenant limits; a missing row or a null column means the server default."""

    __tablename__ = "tenant_quotas"
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    key_requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    max_concurrent_jobs: Mapped[int | None] = mapped_column(Integer)
    max_storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class AuditRow(Base):
    """Append-only: the store has no method that updates or deletes these rows."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class StreamStateRow(Base):
    """The window a streaming anomaly model keeps per asset, encrypted with the tenant's key.

    One row per (tenant, model, version, asset); the store keeps a bounded number per model
    version, dropping the least recently updated assets.
    """

    __tablename__ = "stream_states"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class MaskingPolicyRow(Base):
    """A tenant's personal-data masking policy, encrypted with the tenant's key (names are personal data)."""

    __tablename__ = "masking_policies"
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    policy: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class GenerationRow(Base):
    """A change counter per kind of change; caches in every process compare it to what they hold."""

    __tablename__ = "generations"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class RateWindowRow(Base):
    """Requests admitted per bucket (``key:<id>``, ``tenant:<id>``) and window, shared by all processes."""

    __tablename__ = "rate_windows"
    bucket: Mapped[str] = mapped_column(String(120), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class LogRateRow(Base):
    """The share of a model's predictions that is logged (0 to 1); no row means none."""

    __tablename__ = "prediction_log_rates"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    rate: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LogRetentionRow(Base):
    """How many days a tenant's prediction log is kept; no row means the server default."""

    __tablename__ = "prediction_log_retention"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LogBlobRow(Base):
    """A batch of logged predictions of one model version, sealed with the tenant's key as one blob.

    Only what queries need is in clear: tenant, model, version and the time span it covers.
    """

    __tablename__ = "prediction_log_blobs"
    __table_args__ = (Index("ix_prediction_log_blobs_tenant_last_at", "tenant", "last_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    records: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class LoggedRow(Base):
    """One logged prediction: where its sealed entry is (blob and slot), and its ids and time in clear."""

    __tablename__ = "prediction_log"
    __table_args__ = (
        Index("ix_prediction_log_request", "tenant", "model", "request_id"),
        Index("ix_prediction_log_time", "tenant", "model", "version", "at"),
    )
    blob_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))  # 32 since 0011: the challenger's sources
    at: Mapped[datetime] = mapped_column(DateTime)
    #: The call's latency, on the first logged answer of each call only (one row per call carries it).
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: A call that failed once its records had passed the model's input schema (no answer).
    failed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class FeedbackRow(Base):
    """The true outcome of one logged prediction, sealed with the tenant's key; the latest one sent."""

    __tablename__ = "prediction_feedback"
    __table_args__ = (Index("ix_prediction_feedback_model", "tenant", "model", "version"),)
    blob_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(DateTime)


class AlertRuleRow(Base):
    """A tenant's alert rule on one model: a signal compared with a bound over a window.

    The webhook secret and target URLs are encrypted with the tenant's key (a webhook URL often
    carries a token of its own); ``target_hosts`` keeps only their ``host:port``, for display.
    """

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("tenant", "name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    version: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[str] = mapped_column(String(32))
    input: Mapped[str | None] = mapped_column(String(200))
    metric: Mapped[str | None] = mapped_column(String(32))
    comparison: Mapped[str] = mapped_column(String(2))
    bound: Mapped[float] = mapped_column(Float)
    window_s: Mapped[int] = mapped_column(Integer)
    for_s: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    targets: Mapped[bytes] = mapped_column(LargeBinary)
    target_hosts: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class AlertStateRow(Base):
    """Where one rule stands (ok, pending, firing). Every change is a conditional UPDATE on
    ``revision``, so that of several hosts evaluating at once exactly one makes a transition."""

    __tablename__ = "alert_states"
    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(DateTime)
    value: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(300))
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_eval_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    revision: Mapped[int] = mapped_column(Integer)


class AlertDeliveryRow(Base):
    """One webhook to one target (for a transition or a test), with every attempt made so far in ``log``.

    ``next_attempt_at`` is also the lease of the process sending it: a claim moves it past the
    attempt's timeout and sets ``lease``, and only the holder of that lease records the outcome.
    """

    __tablename__ = "alert_deliveries"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    target: Mapped[bytes] = mapped_column(LargeBinary)  # the URL, encrypted with the tenant's key
    target_host: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    lease: Mapped[str | None] = mapped_column(String(40))
    log: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ChallengerRow(Base):
    """How a model's challenger runs (shadow, or canary with its share); no row means off. The
    challenger itself is the version behind the model's ``challenger`` alias."""

    __tablename__ = "model_challengers"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    share: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str | None] = mapped_column(String(40))


class AzureModelRow(Base):
    """An Azure multivariate model: the Shopfloor model, training job and dataset behind an Azure
    ``modelId`` (see :mod:`shopfloor.registry.azure_entities`)."""

    __tablename__ = "azure_mv_models"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model: Mapped[str] = mapped_column(String(100))
    job_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40))
    info: Mapped[dict[str, Any]] = mapped_column(JSON)
    variable_states: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class AzureResultRow(Base):
    """An Azure batch detection: the batch scoring job behind an Azure ``resultId``."""

    __tablename__ = "azure_mv_results"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    result_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(40), index=True)
    job_id: Mapped[str] = mapped_column(String(40))
    setup: Mapped[dict[str, Any]] = mapped_column(JSON)
    variable_states: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LookoutModelRow(Base):
    """A Lookout for Equipment model: its training job and the request it came from."""

    __tablename__ = "lookout_models"
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    uid: Mapped[str] = mapped_column(String(40))
    dataset_name: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[str] = mapped_column(String(40))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    client_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LookoutSchedulerRow(Base):
    """An inference scheduler; ``due_at`` and ``revision`` are the claim of its next run (a
    conditional update moves them, so exactly one process runs each scheduled execution)."""

    __tablename__ = "lookout_schedulers"
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_lookout_scheduler_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    frequency_s: Mapped[int] = mapped_column(Integer)
    delay_s: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    next_data_end: Mapped[datetime | None] = mapped_column(DateTime)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    revision: Mapped[int] = mapped_column(Integer)
    latest_result: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LookoutExecutionRow(Base):
    """One scheduled run of a scheduler; one row per data window (the unique constraint)."""

    __tablename__ = "lookout_executions"
    __table_args__ = (UniqueConstraint("scheduler_id", "data_end", name="uq_lookout_execution_window"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    scheduler_id: Mapped[str] = mapped_column(ForeignKey("lookout_schedulers.id", ondelete="CASCADE"))
    scheduled_start: Mapped[datetime] = mapped_column(DateTime)
    data_start: Mapped[datetime] = mapped_column(DateTime)
    data_end: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    failed_reason: Mapped[str | None] = mapped_column(Text)
    result_bucket: Mapped[str | None] = mapped_column(String(63))
    result_key: Mapped[str | None] = mapped_column(String(1024))
    model_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LookoutEventRow(Base):
    """An anomalous event one execution found."""

    __tablename__ = "lookout_events"
    __table_args__ = (Index("ix_lookout_events_scheduler_start", "scheduler_id", "start"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    scheduler_id: Mapped[str] = mapped_column(ForeignKey("lookout_schedulers.id", ondelete="CASCADE"))
    execution_id: Mapped[str] = mapped_column(
        ForeignKey("lookout_executions.id", ondelete="CASCADE"), index=True
    )
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)
    diagnostics: Mapped[list[Any]] = mapped_column(JSON)


class SourceRow(Base):
    """An S3-compatible source of a tenant: its endpoint, region and access key id in clear, the
    secret access key encrypted with the tenant's key (bound to tenant and name)."""

    __tablename__ = "sources"
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_url: Mapped[str] = mapped_column(String(2000))
    region: Mapped[str] = mapped_column(String(64))
    access_key_id: Mapped[str] = mapped_column(String(128))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(String(40))


class SourceBucketRow(Base):
    """A bucket a source serves; the primary key makes a bucket belong to one source per tenant."""

    __tablename__ = "source_buckets"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(63), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)


class LookoutDatasetRow(Base):
    """A Lookout for Equipment dataset: a name and schema; its data are the Shopfloor datasets its
    ingestion jobs stored."""

    __tablename__ = "lookout_datasets"
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[Any]] = mapped_column(JSON)
    client_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LookoutIngestionRow(Base):
    """A data ingestion job: the Shopfloor job of the same id and the S3 input it reads."""

    __tablename__ = "lookout_ingestions"
    __table_args__ = (Index("ix_lookout_ingestions_dataset", "tenant", "dataset"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    dataset: Mapped[str] = mapped_column(String(200))
    bucket: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(1024))
    key_pattern: Mapped[str | None] = mapped_column(String(2048))
    role_arn: Mapped[str] = mapped_column(String(2048))
    client_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LabelGroupRow(Base):
    __tablename__ = "lookout_label_groups"
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    fault_codes: Mapped[list[Any]] = mapped_column(JSON)
    client_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class LabelRow(Base):
    """A labelled time range of a label group, with its rating (ANOMALY, NO_ANOMALY, NEUTRAL)."""

    __tablename__ = "lookout_labels"
    __table_args__ = (Index("ix_lookout_labels_group", "tenant", "group_name", "start"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    group_name: Mapped[str] = mapped_column(String(200))
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)
    rating: Mapped[str] = mapped_column(String(16))
    fault_code: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    equipment: Mapped[str | None] = mapped_column(String(200))
    client_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)

"""The registry interface: one protocol per aggregate, :class:`Store` their union. Backends are
picked by URL scheme in :func:`open_store`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from shopfloor.registry.azure_entities import AzureModel, AzureResult
from shopfloor.registry.entities import (
    AccessKey,
    AlertDelivery,
    AlertRule,
    AlertState,
    ApiKey,
    AuditEvent,
    ChallengerSetting,
    Dataset,
    Job,
    Model,
    ModelVersion,
    NewDelivery,
    Quotas,
    Swap,
    Tenant,
    TenantKey,
)
from shopfloor.registry.log_entities import (
    CallOutcomes,
    Feedback,
    LogBatch,
    LogBlob,
    LogCount,
    LoggedPrediction,
)
from shopfloor.registry.lookout_data_entities import Label, LabelGroup, LookoutDataset, LookoutIngestion
from shopfloor.registry.lookout_entities import LookoutEvent, LookoutExecution, LookoutModel, LookoutScheduler
from shopfloor.registry.source_entities import Source

T = TypeVar("T")


class KeyStore(Protocol):
    """Tenants and their API keys (only the keys' hashes are stored)."""

    def ensure_tenant(self, tenant: str) -> Tenant: ...
    def list_tenants(self) -> list[str]: ...
    def add_key(self, key: ApiKey) -> ApiKey: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def get_keys(self, key_ids: list[str]) -> dict[str, ApiKey]: ...
    def list_keys(self, tenant: str) -> list[ApiKey]: ...
    def revoke_key(self, tenant: str, key_id: str) -> ApiKey: ...
    def count_keys(self) -> int: ...


class AccessKeyStore(Protocol):
    """AWS-style access keys (SigV4) of API keys; a revoked API key's access keys come back inactive."""

    def add_access_key(self, key: AccessKey) -> AccessKey: ...
    def get_access_key(self, access_key_id: str) -> AccessKey | None: ...
    def list_access_keys(self, tenant: str) -> list[AccessKey]: ...


class LookoutDataStore(Protocol):
    """The Lookout for Equipment facade's datasets, ingestion jobs, label groups and labels. Names
    are per tenant; a repeated creation with the same client token returns the first one's result."""

    def add_lookout_dataset(self, dataset: LookoutDataset) -> tuple[LookoutDataset, bool]: ...
    def get_lookout_dataset(self, tenant: str, name: str) -> LookoutDataset: ...
    def list_lookout_datasets(self, tenant: str, begins_with: str | None = None) -> list[LookoutDataset]: ...
    def set_lookout_dataset_schema(
        self, tenant: str, name: str, schema: dict[str, Any]
    ) -> LookoutDataset: ...
    def delete_lookout_dataset(self, tenant: str, name: str) -> None: ...
    def add_lookout_ingestion(self, ingestion: LookoutIngestion) -> LookoutIngestion: ...
    def get_lookout_ingestion(self, tenant: str, ingestion_id: str) -> LookoutIngestion: ...
    def list_lookout_ingestions(self, tenant: str, dataset: str | None = None) -> list[LookoutIngestion]: ...
    def add_label_group(self, group: LabelGroup) -> LabelGroup: ...
    def get_label_group(self, tenant: str, name: str) -> LabelGroup: ...
    def list_label_groups(self, tenant: str, begins_with: str | None = None) -> list[LabelGroup]: ...
    def update_label_group(self, tenant: str, name: str, fault_codes: list[str]) -> LabelGroup: ...
    def delete_label_group(self, tenant: str, name: str) -> None: ...
    def add_label(self, label: Label) -> Label: ...
    def get_label(self, tenant: str, group: str, label_id: str) -> Label: ...
    def list_labels(
        self, tenant: str, group: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[Label]: ...
    def delete_label(self, tenant: str, group: str, label_id: str) -> None: ...


class DataKeyStore(Protocol):
    """The tenants' data keys, wrapped by the master key."""

    def get_tenant_key(self, tenant: str) -> TenantKey | None: ...
    def add_tenant_key(self, key: TenantKey) -> TenantKey: ...
    def list_tenant_keys(self) -> list[TenantKey]: ...
    def replace_tenant_keys(self, keys: list[TenantKey]) -> None: ...


class MaskingStore(Protocol):
    """A tenant's masking policy, as bytes the caller encrypted."""

    def get_masking_policy(self, tenant: str) -> bytes | None: ...
    def set_masking_policy(self, tenant: str, policy: bytes) -> None: ...


class DatasetStore(Protocol):
    """Dataset versions: immutable rows pointing at their sealed files."""

    def add_dataset(
        self,
        *,
        id: str,
        tenant: str,
        name: str,
        rows: int,
        sha256: str,
        size_bytes: int,
        format: str,
        columns: list[dict[str, Any]],
        artifact: str,
        signature: str | None = None,
        max_storage_bytes: int | None = None,
    ) -> Dataset: ...
    def get_dataset(self, tenant: str, dataset_id: str) -> Dataset: ...
    def list_datasets(self, tenant: str) -> list[Dataset]: ...
    def count_datasets(self, tenant: str) -> int: ...
    def dataset_artifacts(self) -> list[str]: ...


class ModelStore(Protocol):
    """Models, their versions and aliases."""

    def add_version(
        self,
        *,
        tenant: str,
        model: str,
        task: str,
        report: dict[str, Any],
        input_schema: list[dict[str, Any]],
        files: dict[str, str],
        artifact: str,
        lineage: dict[str, Any],
        job_id: str | None,
        signature: str | None = None,
        size_bytes: int = 0,
    ) -> ModelVersion: ...
    def get_model(self, tenant: str, name: str) -> Model: ...
    def list_models(self, tenant: str) -> list[Model]: ...
    def count_models(self, tenant: str) -> int: ...
    def list_versions(self, tenant: str, name: str) -> list[ModelVersion]: ...
    def get_version(self, tenant: str, name: str, version: int) -> ModelVersion: ...
    def resolve(
        self, tenant: str, name: str, version: int | None, alias: str = "production"
    ) -> ModelVersion: ...
    def set_alias(self, tenant: str, name: str, alias: str, version: int) -> ModelVersion: ...
    def set_alias_if(
        self, tenant: str, name: str, alias: str, version: int, expected: int | None
    ) -> ModelVersion:
        """Move ``alias`` to ``version`` only while it points at ``expected`` (None: while there is
        no such alias); Conflict, changing nothing, when it moved meanwhile."""
        ...
    def delete_model(self, tenant: str, name: str) -> list[ModelVersion]: ...
    def describe_model(self, tenant: str, name: str, description: str) -> Model: ...
    def version_artifacts(self) -> list[str]: ...


class ChallengerStore(Protocol):
    """How each model's challenger runs (the version behind its ``challenger`` alias), and its
    promotion to production; every change moves the registry generation."""

    def challenger_modes(self, tenant: str) -> dict[str, tuple[str, float]]: ...
    def get_challenger(self, tenant: str, name: str) -> ChallengerSetting: ...
    def set_challenger(
        self,
        tenant: str,
        name: str,
        mode: str,
        share: float,
        *,
        version: int | None = None,
        by: str | None = None,
    ) -> ChallengerSetting: ...
    def promote_challenger(
        self, tenant: str, name: str, expected: int, champion: int | None = None
    ) -> tuple[int | None, int]: ...


class JobStore(Protocol):
    """The job queue: jobs queued, claimed by a runner, reported on, finished or cancelled."""

    def create_job(
        self,
        *,
        id: str,
        tenant: str,
        type: str,
        params: dict[str, Any],
        max_active: int | None = None,
        stored_bytes: int = 0,
        request_id: str | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> Job:
        """Queue a job; with ``max_active``, atomically refuse (RateLimited) when the tenant already
        has that many queued plus running jobs. ``request_id`` and ``trace_context`` (W3C headers)
        are those of the request that queues it."""
        ...

    def get_job(self, tenant: str | None, job_id: str) -> Job: ...
    def list_jobs(
        self,
        tenant: str,
        limit: int = 100,
        offset: int = 0,
        status: str | None = None,
        job_type: str | None = None,
    ) -> list[Job]: ...
    def count_jobs(self, tenant: str, status: str | None = None) -> int: ...
    def claim_job(self, worker: str) -> Job | None: ...
    def report_progress(
        self, job_id: str, progress: float, stage: str | None, message: str | None
    ) -> bool: ...
    def heartbeat(self, job_id: str) -> bool: ...
    def set_worker(self, job_id: str, worker: str) -> None: ...
    def running_jobs(self) -> list[tuple[str, str | None]]: ...
    def job_counts(self) -> dict[tuple[str, str], int]:
        """Unfinished jobs per ``(tenant, status)``, status ``queued`` or ``running`` (for metrics)."""
        ...

    def finish_job(
        self, job_id: str, status: str, *, error: str | None = None, result: dict[str, Any] | None = None
    ) -> Job: ...
    def request_cancel(self, tenant: str, job_id: str) -> Job: ...
    def requeue_job(self, job_id: str, worker: str | None, reason: str) -> bool:
        """Hand a running job back to the queue (status queued, no worker, progress reset) when it
        is still running, on ``worker`` when given; True if this call did it (so exactly once)."""
        ...

    def add_job_bytes(self, job_id: str, nbytes: int) -> None:
        """Count ``nbytes`` more that the job keeps in the artifact store (its storage quota share)."""
        ...

    def fail_stale_jobs(self, heartbeat_before: datetime | None, reason: str) -> int: ...
    def queued_job_ids(self) -> list[str]: ...
    def claim_attempt(
        self, job_id: str, worker: str, *, lease_expired_before: datetime, max_attempts: int
    ) -> int | None:
        """Claim one named job for a run (engines that may run a task twice); see sql_attempts."""
        ...

    def renew_lease(self, job_id: str, attempt: int) -> bool: ...
    def finish_attempt(
        self,
        job_id: str,
        attempt: int,
        status: str,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool: ...


class QuotaStore(Protocol):
    """A tenant's own quotas, and what it uses of them now."""

    def get_quotas(self, tenant: str) -> Quotas: ...
    def set_quotas(self, quotas: Quotas) -> Quotas: ...
    def count_active_jobs(self, tenant: str) -> int: ...
    def storage_bytes(self, tenant: str) -> int: ...


class RateStore(Protocol):
    """Shared rate counters: tokens claimed per bucket (``key:<id>``, ``tenant:<id>``) and time window."""

    def claim_rate(self, bucket: str, window: int, n: int, ceiling: int) -> int | None:
        """Atomically add ``n`` to the window's count if it stays at most ``ceiling``: the new
        count, or ``None`` when nothing was added."""
        ...

    def claim_rates(self, claims: list[tuple[str, int, int, int]]) -> list[int | None]:
        """``claim_rate`` for each ``(bucket, window, n, ceiling)`` in one transaction."""
        ...

    def rate_counts(self, buckets: list[str], window: int) -> dict[str, int]: ...
    def prune_rate_windows(self, before: int) -> int: ...


class GenerationStore(Protocol):
    """The registry generation: moved by every change that caches hold (keys, aliases, quotas,
    masking policy), in the same transaction as the change; read by every process."""

    def read_generation(self, name: str = "registry") -> int: ...
    def bump_generation(self, name: str = "registry") -> int: ...


class AuditStore(Protocol):
    """The audit trail, append-only."""

    def add_audit(self, events: list[AuditEvent]) -> None: ...
    def list_audit(
        self,
        tenant: str,
        *,
        action: str | None = None,
        key_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        after_id: int | None = None,
    ) -> list[AuditEvent]: ...


class StreamStore(Protocol):
    """Streaming state: opaque bytes per asset, bounded per model version."""

    def update_stream_states(
        self,
        tenant: str,
        model: str,
        version: int,
        assets: list[str],
        step: Callable[[dict[str, bytes]], tuple[T, dict[str, bytes]]],
        keep: int,
    ) -> T:
        """Read the states of ``assets``, let ``step`` turn them into a result and new states, write
        them (adding new assets, trimming the least recently updated beyond ``keep``): one locking
        transaction. Returns ``step``'s result."""
        ...

    @property
    def swaps_without_waiting(self) -> bool:
        """Whether :meth:`swap_stream_states` can be tried with ``wait=False``."""
        ...

    def swap_stream_states(
        self,
        tenant: str,
        model: str,
        version: int,
        swaps: Mapping[str, tuple[bytes, bytes]],
        *,
        wait: bool = True,
    ) -> Swap:
        """Compare-and-swap: ``swaps[asset] = (expected, new)``; all written (``DONE``) if every row
        still holds its expected bytes, else none (``STALE``); with ``wait=False``, ``LATER`` (none
        written) where a lock would have to be waited for."""
        ...

    def list_stream_assets(self, tenant: str, model: str, version: int) -> list[str]: ...
    def drop_stream_states(self, tenant: str, model: str, asset: str | None = None) -> int: ...


class PredictionLogStore(Protocol):
    """The prediction log: per-model sampling rates, per-tenant retention, sealed batches of logged
    predictions with their clear index (ids, version, time), and the outcomes fed back later."""

    def set_log_rate(self, tenant: str, model: str, rate: float) -> None: ...
    def log_rates(self, tenant: str) -> dict[str, float]: ...
    def set_log_retention(self, tenant: str, days: int | None) -> None: ...
    def log_retention(self) -> dict[str, int]: ...
    def add_prediction_log(self, batches: Sequence[LogBatch]) -> None: ...
    def find_logged(
        self,
        tenant: str,
        model: str,
        *,
        keys: Sequence[tuple[str, int]] = (),
        request_ids: Sequence[str] = (),
    ) -> list[LoggedPrediction]: ...
    def list_logged(
        self,
        tenant: str,
        model: str,
        *,
        version: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        request_id: str | None = None,
        after: tuple[datetime, str, int] | None = None,
        newest_first: bool = False,
        limit: int = 1000,
        sources: Sequence[str] | None = None,
        failed: bool | None = False,
    ) -> list[LoggedPrediction]: ...
    def get_log_blobs(self, tenant: str, ids: Sequence[str]) -> dict[str, LogBlob]: ...
    def put_feedback(self, items: Sequence[Feedback]) -> None: ...
    def get_feedback(
        self, tenant: str, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], Feedback]: ...
    def log_tenants(self) -> list[str]: ...
    def purge_prediction_log(self, tenant: str, before: datetime, batch: int = 500) -> int: ...
    # windows of the log (clear index only): alert signals and the retraining gate
    def log_outcomes(
        self, tenant: str, model: str, version: int, since: datetime, until: datetime, sources: Sequence[str]
    ) -> CallOutcomes: ...
    def count_logged(
        self, tenant: str, model: str, version: int, since: datetime, until: datetime
    ) -> LogCount: ...
    def list_labelled(
        self,
        tenant: str,
        model: str,
        *,
        since: datetime | None = None,
        after: tuple[datetime, str, int] | None = None,
        limit: int = 1000,
    ) -> list[LoggedPrediction]: ...


class AlertStore(Protocol):
    """Alert rules, where each stands, and their webhooks (see :mod:`shopfloor.registry.sql_alerts`
    for how several processes share the work without doing any step twice)."""

    def add_alert_rule(self, rule: AlertRule) -> AlertRule: ...
    def get_alert_rule(self, tenant: str, rule_id: str) -> AlertRule: ...
    def list_alert_rules(self, tenant: str, model: str | None = None) -> list[AlertRule]: ...
    def update_alert_rule(self, tenant: str, rule_id: str, changes: dict[str, Any]) -> AlertRule: ...
    def delete_alert_rule(self, tenant: str, rule_id: str) -> None: ...
    def list_alert_states(
        self, tenant: str | None, model: str | None = None, rule_id: str | None = None
    ) -> list[tuple[AlertRule, AlertState]]: ...
    def due_alert_rules(self, now: datetime, limit: int = 200) -> list[tuple[AlertRule, AlertState]]: ...
    def claim_alert_evaluation(
        self, rule_id: str, revision: int, now: datetime, next_eval_at: datetime
    ) -> int | None:
        """Take one due rule's evaluation: the revision to record it at, or None if another took it."""
        ...

    def record_alert_evaluation(
        self,
        rule_id: str,
        revision: int,
        *,
        state: str,
        since: datetime,
        value: float | None,
        version: int | None,
        note: str | None,
        at: datetime,
        deliveries: Sequence[NewDelivery] = ...,
    ) -> bool:
        """Write an evaluation (and queue its webhooks) if the state is still at ``revision``."""
        ...

    def queue_alert_deliveries(
        self, tenant: str, rule_id: str, deliveries: list[NewDelivery]
    ) -> list[AlertDelivery]: ...
    def claim_alert_deliveries(
        self, now: datetime, lease: str, lease_until: datetime, limit: int = 20
    ) -> list[AlertDelivery]: ...
    def finish_alert_attempt(
        self,
        delivery_id: str,
        lease: str,
        entry: dict[str, Any],
        *,
        status: str,
        next_attempt_at: datetime | None = None,
    ) -> bool: ...
    def list_alert_deliveries(self, tenant: str, rule_id: str, limit: int = 100) -> list[AlertDelivery]: ...
    def prune_alert_deliveries(self, finished_before: datetime) -> int: ...


class AzureMultivariateStore(Protocol):
    """Azure Anomaly Detector multivariate ids mapped to Shopfloor models and jobs; NotFound (with
    the Azure code ModelNotExist / ResultNotExist) for an id of another tenant or none."""

    def add_azure_model(
        self,
        *,
        tenant: str,
        model_id: str,
        model: str,
        job_id: str,
        dataset_id: str,
        info: dict[str, Any],
        variable_states: list[dict[str, Any]],
    ) -> AzureModel: ...
    def get_azure_model(self, tenant: str, model_id: str) -> AzureModel: ...
    def list_azure_models(self, tenant: str, skip: int, top: int) -> tuple[list[AzureModel], int]: ...
    def delete_azure_model(self, tenant: str, model_id: str) -> tuple[AzureModel, list[AzureResult]]: ...
    def add_azure_result(
        self,
        *,
        tenant: str,
        result_id: str,
        model_id: str,
        job_id: str,
        setup: dict[str, Any],
        variable_states: list[dict[str, Any]],
    ) -> AzureResult: ...
    def get_azure_result(self, tenant: str, result_id: str) -> AzureResult: ...


class LookoutModelStore(Protocol):
    """The Lookout for Equipment facade's models, inference schedulers, executions and events (see
    :mod:`shopfloor.registry.sql_lookout_models` for how a scheduled tick runs once on a cluster)."""

    def add_lookout_model(self, model: LookoutModel) -> LookoutModel: ...
    def get_lookout_model(self, tenant: str, name: str) -> LookoutModel: ...
    def list_lookout_models(self, tenant: str) -> list[LookoutModel]: ...
    def delete_lookout_model(self, tenant: str, name: str) -> None: ...
    def add_lookout_scheduler(self, scheduler: LookoutScheduler) -> LookoutScheduler: ...
    def get_lookout_scheduler(self, tenant: str, name: str) -> LookoutScheduler: ...
    def list_lookout_schedulers(self, tenant: str, model: str | None = None) -> list[LookoutScheduler]: ...
    def set_lookout_scheduler_state(
        self,
        tenant: str,
        name: str,
        status: str,
        next_data_end: datetime | None,
        due_at: datetime | None,
        only_from: Sequence[str] | None = None,
    ) -> LookoutScheduler | None: ...
    def delete_lookout_scheduler(self, tenant: str, name: str) -> None: ...
    def due_lookout_schedulers(self, now: datetime, limit: int = 100) -> list[LookoutScheduler]: ...
    def claim_lookout_tick(
        self,
        scheduler: LookoutScheduler,
        execution: LookoutExecution,
        next_data_end: datetime,
        next_due: datetime,
    ) -> bool:
        """Take a due tick and record its execution: True for exactly one of racing callers."""
        ...

    def finish_lookout_execution(
        self,
        execution_id: str,
        *,
        status: str,
        failed_reason: str | None = None,
        result: tuple[str, str] | None = None,
        model_version: int | None = None,
        events: Sequence[LookoutEvent] = (),
        latest_result: str | None = None,
    ) -> None: ...
    def fail_stale_lookout_executions(self, started_before: datetime, reason: str) -> int: ...
    def list_lookout_executions(
        self,
        tenant: str,
        scheduler_id: str,
        *,
        data_start_after: datetime | None = None,
        data_end_before: datetime | None = None,
        status: str | None = None,
    ) -> list[LookoutExecution]: ...
    def list_lookout_events(
        self, tenant: str, scheduler_id: str, start: datetime, end: datetime
    ) -> list[LookoutEvent]: ...


class SourceStore(Protocol):
    """A tenant's S3-compatible sources: endpoint, region, access key id, the secret sealed by the
    caller (with the tenant's key), and the buckets each serves (one source per bucket)."""

    def add_source(self, source: Source) -> Source:
        """Store a new source; Conflict (nothing stored) on a taken name or an already served bucket."""
        ...

    def get_source(self, tenant: str, name: str) -> Source: ...
    def list_sources(self, tenant: str) -> list[Source]: ...
    def source_for_bucket(self, tenant: str, bucket: str) -> Source | None: ...
    def delete_source(self, tenant: str, name: str) -> Source: ...


class HealthStore(Protocol):
    """What readiness asks of the registry."""

    def ping(self) -> None:
        """One trivial query; raises :class:`~shopfloor.errors.RegistryUnavailable` if it fails."""
        ...

    def schema_revision(self) -> str | None:
        """The migration revision the database is at; None before the first migration."""
        ...


class Store(
    KeyStore,
    AccessKeyStore,
    LookoutDataStore,
    DataKeyStore,
    MaskingStore,
    DatasetStore,
    ModelStore,
    JobStore,
    QuotaStore,
    RateStore,
    GenerationStore,
    AuditStore,
    StreamStore,
    PredictionLogStore,
    AlertStore,
    ChallengerStore,
    AzureMultivariateStore,
    LookoutModelStore,
    SourceStore,
    HealthStore,
    Protocol,
):
    """Everything the platform persists: the union of the protocols above, one per aggregate.

    Every method is one unit of work (one transaction). Lookups scoped by tenant
    raise :class:`~shopfloor.errors.NotFound` for another tenant's object, so a
    caller cannot tell it exists. A consumer that needs only part of the registry
    takes the narrowest protocol it uses (a :class:`JobStore`, an :class:`AuditStore`).
    """

    def close(self) -> None: ...


def open_store(url: str) -> Store:
    """A store for ``url``: ``sqlite:///path`` or ``postgresql+psycopg://...`` (SQL backend)."""
    from shopfloor.registry.sql import SqlStore

    return SqlStore(url)

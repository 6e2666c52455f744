"""All SQL of the platform: the SQLAlchemy implementation of :class:`Store`."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased, sessionmaker

from shopfloor.errors import (
    JOBS_RETRY_AFTER_S,
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    RegistryUnavailable,
    StorageQuotaExceeded,
)
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import TERMINAL, ApiKey, Dataset, Job, Model, ModelVersion, Tenant
from shopfloor.registry.orm import (
    AliasRow,
    DatasetRow,
    JobRow,
    KeyRow,
    ModelRow,
    StreamStateRow,
    TenantRow,
    VersionRow,
)
from shopfloor.registry.sql_access_keys import AccessKeyTables
from shopfloor.registry.sql_alerts import AlertTables
from shopfloor.registry.sql_aliases import AliasTables
from shopfloor.registry.sql_attempts import AttemptTables
from shopfloor.registry.sql_azure_mv import AzureMultivariateTables
from shopfloor.registry.sql_challenger import ChallengerTables, drop_challenger_in
from shopfloor.registry.sql_generation import GenerationTables, bump_in
from shopfloor.registry.sql_health import HealthQueries
from shopfloor.registry.sql_limits import LimitTables
from shopfloor.registry.sql_log_windows import LogWindowQueries
from shopfloor.registry.sql_lookout_data import LookoutDataTables
from shopfloor.registry.sql_lookout_models import LookoutModelTables
from shopfloor.registry.sql_monitoring import MonitoringTables, drop_log_in
from shopfloor.registry.sql_sources import SourceTables
from shopfloor.registry.sql_streams import StreamTables
from shopfloor.registry.sql_trust import TrustTables, stored_bytes_in


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            # WAL lets the job runner write progress while API processes read.
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # A registry that does not answer must fail a request within seconds, not hang it (and the
    # event loop that checks keys and generations) for the driver's default of minutes.
    args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, connect_args=args)


#: A new tenant's name: letters, digits, '.', '_' and '-', starting with a letter or digit. Names of
#: the platform's own (``*``, the audit log's unknown-key summaries) can never be a tenant's.
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _new_tenant_name(tenant: str) -> str:
    if not _TENANT_NAME.fullmatch(tenant):
        raise InvalidInput(
            f"tenant name {tenant!r} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            errors=[{"loc": ["tenant"], "msg": "invalid tenant name"}],
        )
    return tenant


def _retryable(exc: Exception) -> bool:
    """A lost race on a unique constraint, or SQLite's busy answer to a concurrent writer."""
    cause = exc.__cause__
    if isinstance(cause, IntegrityError):
        return True
    return isinstance(cause, OperationalError) and "locked" in str(cause).lower()


class SqlStore(
    TrustTables,
    StreamTables,
    GenerationTables,
    LimitTables,
    AttemptTables,
    MonitoringTables,
    ChallengerTables,
    AliasTables,
    AlertTables,
    AzureMultivariateTables,
    LookoutModelTables,
    SourceTables,
    AccessKeyTables,
    LookoutDataTables,
    LogWindowQueries,
    HealthQueries,
):
    """Registry on SQLite (embedded default) or PostgreSQL, chosen by URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.close_streams()
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error, translate driver errors."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict("the object already exists or conflicts with another") from exc
        except OperationalError as exc:
            session.rollback()
            raise RegistryUnavailable("the registry database is not reachable or busy; try again") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # ---- tenants and keys -------------------------------------------------------------------------
    def ensure_tenant(self, tenant: str) -> Tenant:
        try:
            return self._ensure_tenant(tenant)
        except Conflict:  # servers starting together: another created it at the same moment
            return self._ensure_tenant(tenant)

    def _ensure_tenant(self, tenant: str) -> Tenant:
        with self._session() as s:
            row = s.get(TenantRow, tenant)
            if row is None:
                row = TenantRow(id=_new_tenant_name(tenant), created_at=_now())
                s.add(row)
            return Tenant(id=row.id, created_at=_aware(row.created_at))

    def list_tenants(self) -> list[str]:
        with self._session() as s:
            return list(s.scalars(select(TenantRow.id).order_by(TenantRow.id)))

    def add_key(self, key: ApiKey) -> ApiKey:
        with self._session() as s:
            if s.get(TenantRow, key.tenant) is None:
                s.add(TenantRow(id=_new_tenant_name(key.tenant), created_at=_now()))
                s.flush()
            row = KeyRow(
                id=key.id,
                tenant=key.tenant,
                role=key.role,
                name=key.name,
                secret_hash=key.secret_hash,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _key(row)

    def get_key(self, key_id: str) -> ApiKey | None:
        with self._session() as s:
            row = s.get(KeyRow, key_id)
            return _key(row) if row is not None else None

    def get_keys(self, key_ids: list[str]) -> dict[str, ApiKey]:
        """The keys of ``key_ids`` that exist, by id (ids nobody issued are left out)."""
        found: dict[str, ApiKey] = {}
        with self._session() as s:
            for start in range(0, len(key_ids), 500):
                rows = s.scalars(select(KeyRow).where(KeyRow.id.in_(key_ids[start : start + 500])))
                found.update((r.id, _key(r)) for r in rows)
        return found

    def list_keys(self, tenant: str) -> list[ApiKey]:
        with self._session() as s:
            rows = s.scalars(select(KeyRow).where(KeyRow.tenant == tenant).order_by(KeyRow.created_at))
            return [_key(r) for r in rows]

    def revoke_key(self, tenant: str, key_id: str) -> ApiKey:
        with self._session() as s:
            row = s.get(KeyRow, key_id)
            if row is None or row.tenant != tenant:
                raise NotFound(f"API key {key_id!r} not found")
            if row.revoked_at is None:
                row.revoked_at = _now()
                bump_in(s)
            return _key(row)

    def count_keys(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.count()).select_from(KeyRow)) or 0)

    # ---- datasets ---------------------------------------------------------------------------------
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
    ) -> Dataset:
        """Register a dataset version; with ``max_storage_bytes``, only if the tenant's datasets stay
        within it (checked in the same transaction, under the tenant's lock), else
        :class:`StorageQuotaExceeded` and nothing is added."""
        with self._session() as s:
            if max_storage_bytes is not None:
                _lock_tenant(s, tenant)
                used = stored_bytes_in(s, tenant)
                if used + size_bytes > max_storage_bytes:
                    raise StorageQuotaExceeded(
                        f"tenant {tenant!r} stores {used} bytes; {size_bytes} more would pass its quota "
                        f"of {max_storage_bytes} bytes",
                        used_bytes=used,
                        max_storage_bytes=max_storage_bytes,
                    )
            latest = s.scalar(
                select(func.max(DatasetRow.version)).where(
                    DatasetRow.tenant == tenant, DatasetRow.name == name
                )
            )
            row = DatasetRow(
                id=id,
                tenant=tenant,
                name=name,
                version=(latest or 0) + 1,
                rows=rows,
                sha256=sha256,
                size_bytes=size_bytes,
                format=format,
                columns=columns,
                artifact=artifact,
                signature=signature,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _dataset(row)

    def get_dataset(self, tenant: str, dataset_id: str) -> Dataset:
        with self._session() as s:
            row = s.get(DatasetRow, dataset_id)
            if row is None or row.tenant != tenant:
                raise NotFound(
                    f"dataset {dataset_id!r} not found",
                    errors=[{"loc": ["dataset_id"], "msg": "no such dataset"}],
                )
            return _dataset(row)

    def list_datasets(self, tenant: str) -> list[Dataset]:
        with self._session() as s:
            rows = s.scalars(
                select(DatasetRow).where(DatasetRow.tenant == tenant).order_by(DatasetRow.created_at.desc())
            )
            return [_dataset(r) for r in rows]

    def count_datasets(self, tenant: str) -> int:
        query = select(func.count()).select_from(DatasetRow).where(DatasetRow.tenant == tenant)
        with self._session() as s:
            return int(s.scalar(query) or 0)

    def dataset_artifacts(self) -> list[str]:
        with self._session() as s:
            return list(s.scalars(select(DatasetRow.artifact)))

    # ---- jobs -------------------------------------------------------------------------------------
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
        """Queue a job; with ``max_active``, only if the tenant has fewer queued plus running jobs
        (counted under the tenant's lock, so concurrent requests cannot both take the last place),
        else :class:`RateLimited` and nothing is added."""
        with self._session() as s:
            if max_active is not None:
                _lock_tenant(s, tenant)
                active = int(
                    s.scalar(
                        select(func.count())
                        .select_from(JobRow)
                        .where(JobRow.tenant == tenant, JobRow.status.in_(("queued", "running")))
                    )
                    or 0
                )
                if active >= max_active:
                    raise RateLimited(
                        f"tenant {tenant!r} has {active} queued or running job(s), its limit is "
                        f"{max_active}; wait for one to finish or cancel one",
                        retry_after=JOBS_RETRY_AFTER_S,
                    )
            row = JobRow(
                id=id,
                tenant=tenant,
                type=type,
                status="queued",
                params=params,
                progress=0.0,
                stage="queued",
                cancel_requested=False,
                created_at=_now(),
                stored_bytes=stored_bytes,
                request_id=request_id,
                trace_context=trace_context,
                attempts=0,
            )
            s.add(row)
            s.flush()
            return _job(row)

    def add_job_bytes(self, job_id: str, nbytes: int) -> None:
        with self._session() as s:
            s.execute(
                update(JobRow).where(JobRow.id == job_id).values(stored_bytes=JobRow.stored_bytes + nbytes)
            )

    def get_job(self, tenant: str | None, job_id: str) -> Job:
        with self._session() as s:
            row = s.get(JobRow, job_id)
            if row is None or (tenant is not None and row.tenant != tenant):
                raise NotFound(f"job {job_id!r} not found")
            return _job(row)

    def list_jobs(
        self,
        tenant: str,
        limit: int = 100,
        offset: int = 0,
        status: str | None = None,
        job_type: str | None = None,
    ) -> list[Job]:
        query = select(JobRow).where(JobRow.tenant == tenant)
        if status is not None:
            query = query.where(JobRow.status == status)
        if job_type is not None:
            query = query.where(JobRow.type == job_type)
        with self._session() as s:
            rows = s.scalars(query.order_by(JobRow.created_at.desc()).offset(offset).limit(limit))
            return [_job(r) for r in rows]

    def count_jobs(self, tenant: str, status: str | None = None) -> int:
        query = select(func.count()).select_from(JobRow).where(JobRow.tenant == tenant)
        if status is not None:
            query = query.where(JobRow.status == status)
        with self._session() as s:
            return int(s.scalar(query) or 0)

    def claim_job(self, worker: str) -> Job | None:
        """Atomically move the next queued job to running; two workers never get the same job.

        Fair share between tenants, not plain FIFO: the next job is that of the tenant with the
        fewest running jobs; among those, the tenant whose last job started longest ago (never
        first), then the oldest queued job. A tenant that queued many jobs does not put the others
        behind all of them, also with one job slot.
        """
        other = aliased(JobRow)
        running = (
            select(func.count())
            .where(other.tenant == JobRow.tenant, other.status == "running")
            .correlate(JobRow)
            .scalar_subquery()
        )
        last_started = (
            select(func.max(other.started_at)).where(other.tenant == JobRow.tenant).correlate(JobRow)
        ).scalar_subquery()
        with self._session() as s:
            # On PostgreSQL, SKIP LOCKED hands concurrent claimers different rows instead of making
            # them queue on the same one and come back empty; SQLite (one writer) ignores the clause.
            # The conditional UPDATE and its rowcount check are what guarantee exclusivity on both.
            candidate = s.scalar(
                select(JobRow.id)
                .where(JobRow.status == "queued")
                .order_by(running, last_started.asc().nulls_first(), JobRow.created_at, JobRow.id)
                .limit(1)
                .with_for_update(skip_locked=True, of=JobRow)
            )
            if candidate is None:
                return None
            now = _now()
            claimed = s.execute(
                update(JobRow)
                .where(JobRow.id == candidate, JobRow.status == "queued")
                .values(
                    status="running",
                    worker=worker,
                    started_at=now,
                    heartbeat_at=now,
                    stage="starting",
                    attempts=JobRow.attempts + 1,
                )
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = s.get(JobRow, candidate)
            assert row is not None
            s.refresh(row)
            return _job(row)

    def report_progress(self, job_id: str, progress: float, stage: str | None, message: str | None) -> bool:
        """Record progress and heartbeat; returns True when cancellation was requested."""
        with self._session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                return True
            if row.status == "running":
                row.progress = max(0.0, min(1.0, float(progress)))
                row.stage, row.message, row.heartbeat_at = stage, message, _now()
            return bool(row.cancel_requested)

    def heartbeat(self, job_id: str) -> bool:
        """Keep a running job alive; returns True when cancellation was requested."""
        with self._session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                return True
            if row.status == "running":
                row.heartbeat_at = _now()
            return bool(row.cancel_requested)

    def set_worker(self, job_id: str, worker: str) -> None:
        with self._session() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(worker=worker))

    def running_jobs(self) -> list[tuple[str, str | None]]:
        with self._session() as s:
            return [
                (r.id, r.worker)
                for r in s.execute(select(JobRow.id, JobRow.worker).where(JobRow.status == "running"))
            ]

    def job_counts(self) -> dict[tuple[str, str], int]:
        with self._session() as s:
            rows = s.execute(
                select(JobRow.tenant, JobRow.status, func.count())
                .where(JobRow.status.in_(("queued", "running")))
                .group_by(JobRow.tenant, JobRow.status)
            )
            return {(tenant, status): int(n) for tenant, status, n in rows}

    def finish_job(
        self, job_id: str, status: str, *, error: str | None = None, result: dict[str, Any] | None = None
    ) -> Job:
        assert status in TERMINAL
        with self._session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"job {job_id!r} not found")
            if row.status not in TERMINAL:
                row.status, row.error, row.result, row.finished_at = status, error, result, _now()
                row.stage = status
                if status == "succeeded":
                    row.progress = 1.0
            return _job(row)

    def request_cancel(self, tenant: str, job_id: str) -> Job:
        with self._session() as s:
            row = s.get(JobRow, job_id)
            if row is None or row.tenant != tenant:
                raise NotFound(f"job {job_id!r} not found")
            if row.status == "queued":
                row.status, row.stage, row.finished_at = "cancelled", "cancelled", _now()
                row.cancel_requested = True
            elif row.status == "running":
                row.cancel_requested = True
                row.message = "cancellation requested"
            return _job(row)

    def requeue_job(self, job_id: str, worker: str | None, reason: str) -> bool:
        """Hand a running job back to the queue; True if this call did it (a conditional update:
        a job that ended meanwhile, or that another process already settled, is left alone)."""
        with self._session() as s:
            stmt = update(JobRow).where(JobRow.id == job_id, JobRow.status == "running")
            if worker is not None:
                stmt = stmt.where(JobRow.worker == worker)
            done = s.execute(
                stmt.values(
                    status="queued",
                    worker=None,
                    started_at=None,
                    heartbeat_at=None,
                    progress=0.0,
                    stage="queued",
                    message=reason,
                )
            )
            return int(done.rowcount) == 1  # type: ignore[attr-defined]

    def fail_stale_jobs(self, heartbeat_before: datetime | None, reason: str) -> int:
        """Mark running jobs failed: all of them, or those whose heartbeat is older than the cut-off."""
        with self._session() as s:
            stmt = update(JobRow).where(JobRow.status == "running")
            if heartbeat_before is not None:
                stmt = stmt.where(JobRow.heartbeat_at < heartbeat_before.astimezone(UTC).replace(tzinfo=None))
            done = s.execute(stmt.values(status="failed", stage="failed", error=reason, finished_at=_now()))
            return int(done.rowcount)  # type: ignore[attr-defined]

    # ---- models -----------------------------------------------------------------------------------
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
    ) -> ModelVersion:
        args: dict[str, Any] = dict(tenant=tenant, model=model, task=task, report=report, files=files)
        args["size_bytes"] = size_bytes
        args.update(input_schema=input_schema, artifact=artifact, lineage=lineage, job_id=job_id)
        attempts = 12
        for attempt in range(attempts):
            try:
                return self._add_version_once(**args, signature=signature)
            except (Conflict, RegistryUnavailable) as exc:
                # Two servers adding the first version of a new model both insert its row, or (SQLite,
                # where FOR UPDATE is a no-op) both read the same latest_version, or SQLite refuses a
                # read transaction's upgrade to a write ("database is locked"): the loser retries
                # against the winner's committed row. Each of n concurrent writers loses at most n-1
                # times, so the attempts bound the writers that may race, not the chance of success.
                if not _retryable(exc) or attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311 - jitter
        raise AssertionError("unreachable")

    def _add_version_once(
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
        signature: str | None,
        size_bytes: int,
    ) -> ModelVersion:
        with self._session() as s:
            mrow = s.scalar(
                select(ModelRow).where(ModelRow.tenant == tenant, ModelRow.name == model).with_for_update()
            )
            if mrow is None:
                mrow = ModelRow(tenant=tenant, name=model, task=task, latest_version=0, created_at=_now())
                s.add(mrow)
                s.flush()
            elif mrow.task != task:
                raise Conflict(
                    f"model {model!r} is a {mrow.task} model; a {task} version cannot be added",
                    errors=[{"loc": ["body", "model_name"], "msg": "task differs"}],
                )
            elif job_id is not None:
                # A job run again (its worker stopped after registering, before the job was marked
                # finished) registers nothing new: the version it added the first time is its result.
                done = s.scalar(
                    select(VersionRow).where(VersionRow.model_id == mrow.id, VersionRow.job_id == job_id)
                )
                if done is not None:
                    aliases = _invert(self._aliases(s, mrow.id)).get(done.version, ())
                    return _version(tenant, model, done, aliases)
            mrow.latest_version += 1
            vrow = VersionRow(
                model_id=mrow.id,
                version=mrow.latest_version,
                task=task,
                status="ready",
                report=report,
                input_schema=input_schema,
                files=files,
                artifact=artifact,
                lineage=lineage,
                job_id=job_id,
                signature=signature,
                created_at=_now(),
                size_bytes=size_bytes,
            )
            s.add(vrow)
            s.flush()
            return _version(tenant, model, vrow, ())

    def _model_row(self, s: Session, tenant: str, name: str) -> ModelRow:
        row = s.scalar(select(ModelRow).where(ModelRow.tenant == tenant, ModelRow.name == name))
        if row is None:
            raise NotFound(f"model {name!r} not found")
        return row

    def _aliases(self, s: Session, model_id: int) -> dict[str, int]:
        return {a.alias: a.version for a in s.scalars(select(AliasRow).where(AliasRow.model_id == model_id))}

    def get_model(self, tenant: str, name: str) -> Model:
        with self._session() as s:
            row = self._model_row(s, tenant, name)
            return _model(row, self._aliases(s, row.id))

    def list_models(self, tenant: str) -> list[Model]:
        with self._session() as s:
            rows = list(s.scalars(select(ModelRow).where(ModelRow.tenant == tenant).order_by(ModelRow.name)))
            # every alias of the tenant in one query, not one query per model
            joined = select(AliasRow).join(ModelRow, AliasRow.model_id == ModelRow.id)
            aliases: dict[int, dict[str, int]] = {}
            for a in s.scalars(joined.where(ModelRow.tenant == tenant)):
                aliases.setdefault(a.model_id, {})[a.alias] = a.version
            return [_model(r, aliases.get(r.id, {})) for r in rows]

    def count_models(self, tenant: str) -> int:
        query = select(func.count()).select_from(ModelRow).where(ModelRow.tenant == tenant)
        with self._session() as s:
            return int(s.scalar(query) or 0)

    def list_versions(self, tenant: str, name: str) -> list[ModelVersion]:
        with self._session() as s:
            mrow = self._model_row(s, tenant, name)
            by_version = _invert(self._aliases(s, mrow.id))
            rows = s.scalars(
                select(VersionRow).where(VersionRow.model_id == mrow.id).order_by(VersionRow.version)
            )
            return [_version(tenant, name, r, by_version.get(r.version, ())) for r in rows]

    def get_version(self, tenant: str, name: str, version: int) -> ModelVersion:
        with self._session() as s:
            mrow = self._model_row(s, tenant, name)
            return self._version_of(s, tenant, mrow, version)

    def _version_of(self, s: Session, tenant: str, mrow: ModelRow, version: int) -> ModelVersion:
        vrow = s.scalar(
            select(VersionRow).where(VersionRow.model_id == mrow.id, VersionRow.version == version)
        )
        if vrow is None:
            raise NotFound(
                f"model {mrow.name!r} has no version {version}",
                errors=[{"loc": ["version"], "msg": "no such version"}],
            )
        return _version(tenant, mrow.name, vrow, _invert(self._aliases(s, mrow.id)).get(version, ()))

    def resolve(self, tenant: str, name: str, version: int | None, alias: str = "production") -> ModelVersion:
        with self._session() as s:
            mrow = self._model_row(s, tenant, name)
            if version is None:
                aliased = self._aliases(s, mrow.id).get(alias)
                if aliased is None:
                    raise Conflict(
                        f"model {name!r} has no version aliased {alias!r}: promote one with "
                        f"PUT /v1/models/{name}/aliases/{alias} or pass ?version=",
                        errors=[{"loc": ["query", "version"], "msg": f"no {alias} alias"}],
                    )
                version = aliased
            return self._version_of(s, tenant, mrow, version)

    def delete_model(self, tenant: str, name: str) -> list[ModelVersion]:
        """Remove model ``name`` of ``tenant`` with its versions, aliases, streaming state and prediction
        log, and move the generation (every process drops its resolutions). Returns the versions removed:
        their artifact files are the caller's to delete. Raises NotFound for an unknown model."""
        with self._session() as s:
            # The row lock a new version takes too: no version is added while the model goes.
            mrow = s.scalar(
                select(ModelRow).where(ModelRow.tenant == tenant, ModelRow.name == name).with_for_update()
            )
            if mrow is None:
                raise NotFound(f"model {name!r} not found")
            aliases = _invert(self._aliases(s, mrow.id))
            rows = s.scalars(select(VersionRow).where(VersionRow.model_id == mrow.id)).all()
            gone = [_version(tenant, name, r, aliases.get(r.version, ())) for r in rows]
            s.execute(delete(AliasRow).where(AliasRow.model_id == mrow.id))
            s.execute(delete(VersionRow).where(VersionRow.model_id == mrow.id))
            s.execute(
                delete(StreamStateRow).where(StreamStateRow.tenant == tenant, StreamStateRow.model == name)
            )
            drop_log_in(s, tenant, name)
            drop_challenger_in(s, tenant, name)
            s.delete(mrow)
            bump_in(s)
            return gone

    def describe_model(self, tenant: str, name: str, description: str) -> Model:
        with self._session() as s:
            row = self._model_row(s, tenant, name)
            row.description = description
            s.flush()
            return _model(row, self._aliases(s, row.id))

    def version_artifacts(self) -> list[str]:
        with self._session() as s:
            return list(s.scalars(select(VersionRow.artifact)))


def _lock_tenant(s: Session, tenant: str) -> None:
    """Serialise this transaction with every other one that locks ``tenant`` (quota checks): a
    no-op write of the tenant's row takes its row lock on PostgreSQL and the write lock on SQLite
    before anything is read. The row is created if missing."""
    if s.get(TenantRow, tenant) is None:
        s.add(TenantRow(id=tenant, created_at=_now()))
        s.flush()
    s.execute(update(TenantRow).where(TenantRow.id == tenant).values(id=TenantRow.id))


def _invert(aliases: dict[str, int]) -> dict[int, tuple[str, ...]]:
    out: dict[int, tuple[str, ...]] = {}
    for alias, version in sorted(aliases.items()):
        out[version] = (*out.get(version, ()), alias)
    return out


def _key(r: KeyRow) -> ApiKey:
    return ApiKey(
        id=r.id,
        tenant=r.tenant,
        role=r.role,
        name=r.name,
        secret_hash=r.secret_hash,
        created_at=_aware(r.created_at),
        revoked_at=_aware(r.revoked_at),
    )


def _dataset(r: DatasetRow) -> Dataset:
    return Dataset(
        id=r.id,
        tenant=r.tenant,
        name=r.name,
        version=r.version,
        rows=r.rows,
        sha256=r.sha256,
        size_bytes=r.size_bytes,
        format=r.format,
        columns=list(r.columns),
        artifact=r.artifact,
        created_at=_aware(r.created_at),
        signature=r.signature,
    )


def _job(r: JobRow) -> Job:
    return Job(
        id=r.id,
        tenant=r.tenant,
        type=r.type,
        status=r.status,
        params=dict(r.params or {}),
        progress=float(r.progress or 0.0),
        stage=r.stage,
        message=r.message,
        error=r.error,
        result=r.result,
        cancel_requested=bool(r.cancel_requested),
        worker=r.worker,
        created_at=_aware(r.created_at),
        started_at=_aware(r.started_at),
        finished_at=_aware(r.finished_at),
        heartbeat_at=_aware(r.heartbeat_at),
        request_id=r.request_id,
        trace_context=dict(r.trace_context) if r.trace_context else None,
        attempts=int(r.attempts or 0),
    )


def _model(r: ModelRow, aliases: dict[str, int]) -> Model:
    return Model(
        tenant=r.tenant,
        name=r.name,
        task=r.task,
        created_at=_aware(r.created_at),
        latest_version=r.latest_version,
        aliases=aliases,
        description=r.description or "",
    )


def _version(tenant: str, name: str, r: VersionRow, aliases: tuple[str, ...]) -> ModelVersion:
    return ModelVersion(
        tenant=tenant,
        model=name,
        version=r.version,
        task=r.task,
        status=r.status,
        report=dict(r.report or {}),
        input_schema=list(r.input_schema or []),
        files=dict(r.files or {}),
        artifact=r.artifact,
        lineage=dict(r.lineage or {}),
        job_id=r.job_id,
        created_at=_aware(r.created_at),
        aliases=aliases,
        signature=r.signature,
    )

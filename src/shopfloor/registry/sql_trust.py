"""SQL for the trust tables: tenant data keys, quotas and the append-only audit log.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`, kept apart to keep modules small.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import naive as _naive
from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import AuditEvent, Quotas, TenantKey
from shopfloor.registry.orm import (
    AuditRow,
    DatasetRow,
    JobRow,
    MaskingPolicyRow,
    ModelRow,
    QuotaRow,
    TenantKeyRow,
    TenantRow,
    VersionRow,
)
from shopfloor.registry.sql_generation import bump_in


def stored_bytes_in(s: Session, tenant: str) -> int:
    """What the storage quota counts, read in the caller's transaction: the tenant's datasets, its
    model versions' files and what its jobs keep (batch inputs and scored results)."""
    parts = (
        select(func.coalesce(func.sum(DatasetRow.size_bytes), 0)).where(DatasetRow.tenant == tenant),
        select(func.coalesce(func.sum(VersionRow.size_bytes), 0))
        .join(ModelRow, VersionRow.model_id == ModelRow.id)
        .where(ModelRow.tenant == tenant),
        select(func.coalesce(func.sum(JobRow.stored_bytes), 0)).where(JobRow.tenant == tenant),
    )
    return sum(int(s.scalar(part) or 0) for part in parts)


class TrustTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    # ---- tenant data keys -------------------------------------------------------------------------
    def get_tenant_key(self, tenant: str) -> TenantKey | None:
        with self._session() as s:
            row = s.get(TenantKeyRow, tenant)
            return _tenant_key(row) if row is not None else None

    def add_tenant_key(self, key: TenantKey) -> TenantKey:
        """Store a tenant's first data key; if another process stored one first, return that one."""
        with self._session() as s:
            existing = s.get(TenantKeyRow, key.tenant)
            if existing is not None:
                return _tenant_key(existing)
            if s.get(TenantRow, key.tenant) is None:
                s.add(TenantRow(id=key.tenant, created_at=_now()))
                s.flush()
            row = TenantKeyRow(
                tenant=key.tenant,
                wrapped_key=key.wrapped_key,
                master_key_id=key.master_key_id,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _tenant_key(row)

    def list_tenant_keys(self) -> list[TenantKey]:
        with self._session() as s:
            return [_tenant_key(r) for r in s.scalars(select(TenantKeyRow).order_by(TenantKeyRow.tenant))]

    def replace_tenant_keys(self, keys: list[TenantKey]) -> None:
        """Replace wrapped keys in one transaction (master-key rotation): all or none."""
        with self._session() as s:
            for key in keys:
                row = s.get(TenantKeyRow, key.tenant)
                if row is None:
                    raise KeyError(key.tenant)
                row.wrapped_key, row.master_key_id, row.rotated_at = (
                    key.wrapped_key,
                    key.master_key_id,
                    _now(),
                )

    # ---- masking policy (opaque, encrypted by the service) ----------------------------------------
    def get_masking_policy(self, tenant: str) -> bytes | None:
        with self._session() as s:
            row = s.get(MaskingPolicyRow, tenant)
            return row.policy if row is not None else None

    def set_masking_policy(self, tenant: str, policy: bytes) -> None:
        with self._session() as s:
            if s.get(TenantRow, tenant) is None:
                s.add(TenantRow(id=tenant, created_at=_now()))
                s.flush()
            row = s.get(MaskingPolicyRow, tenant)
            if row is None:
                s.add(MaskingPolicyRow(tenant=tenant, policy=policy, updated_at=_now()))
            else:
                row.policy, row.updated_at = policy, _now()
            bump_in(s)

    # ---- quotas -----------------------------------------------------------------------------------
    def get_quotas(self, tenant: str) -> Quotas:
        with self._session() as s:
            row = s.get(QuotaRow, tenant)
            if row is None:
                return Quotas(tenant=tenant)
            return Quotas(
                tenant=tenant,
                requests_per_minute=row.requests_per_minute,
                key_requests_per_minute=row.key_requests_per_minute,
                max_concurrent_jobs=row.max_concurrent_jobs,
                max_storage_bytes=row.max_storage_bytes,
            )

    def set_quotas(self, quotas: Quotas) -> Quotas:
        with self._session() as s:
            if s.get(TenantRow, quotas.tenant) is None:
                s.add(TenantRow(id=quotas.tenant, created_at=_now()))
                s.flush()
            row = s.get(QuotaRow, quotas.tenant)
            if row is None:
                row = QuotaRow(tenant=quotas.tenant, updated_at=_now())
                s.add(row)
            row.requests_per_minute = quotas.requests_per_minute
            row.key_requests_per_minute = quotas.key_requests_per_minute
            row.max_concurrent_jobs = quotas.max_concurrent_jobs
            row.max_storage_bytes = quotas.max_storage_bytes
            row.updated_at = _now()
            bump_in(s)
        return quotas

    def count_active_jobs(self, tenant: str) -> int:
        with self._session() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(JobRow)
                    .where(JobRow.tenant == tenant, JobRow.status.in_(("queued", "running")))
                )
                or 0
            )

    def storage_bytes(self, tenant: str) -> int:
        """Bytes the tenant stores: its datasets, its model versions' files and what its jobs keep
        (batch inputs and scored results)."""
        with self._session() as s:
            return stored_bytes_in(s, tenant)

    # ---- audit ------------------------------------------------------------------------------------
    def add_audit(self, events: list[AuditEvent]) -> None:
        if not events:
            return
        with self._session() as s:
            s.add_all(
                AuditRow(
                    at=_naive(e.at) if e.at else _now(),
                    tenant=e.tenant,
                    key_id=e.key_id,
                    role=e.role,
                    action=e.action,
                    target=e.target,
                    outcome=e.outcome,
                    detail=e.detail,
                )
                for e in events
            )

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
    ) -> list[AuditEvent]:
        with self._session() as s:
            stmt = select(AuditRow).where(AuditRow.tenant == tenant)
            if action:
                stmt = stmt.where(AuditRow.action == action)
            if key_id:
                stmt = stmt.where(AuditRow.key_id == key_id)
            if since:
                stmt = stmt.where(AuditRow.at >= _naive(since))
            if until:
                stmt = stmt.where(AuditRow.at < _naive(until))
            if after_id is not None:
                stmt = stmt.where(AuditRow.id > after_id)
            return [_audit(r) for r in s.scalars(stmt.order_by(AuditRow.id).limit(limit))]


def _tenant_key(r: TenantKeyRow) -> TenantKey:
    return TenantKey(
        tenant=r.tenant,
        wrapped_key=bytes(r.wrapped_key),
        master_key_id=r.master_key_id,
        created_at=_aware(r.created_at) or datetime.now(UTC),
        rotated_at=_aware(r.rotated_at),
    )


def _audit(r: AuditRow) -> AuditEvent:
    detail: dict[str, Any] = dict(r.detail or {})
    return AuditEvent(
        id=r.id,
        at=_aware(r.at),
        tenant=r.tenant,
        key_id=r.key_id,
        role=r.role,
        action=r.action,
        target=r.target,
        outcome=r.outcome,
        detail=detail,
    )


__all__ = ["TrustTables"]

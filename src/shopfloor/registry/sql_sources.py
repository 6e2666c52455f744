"""SQL for tenants' S3-compatible sources: the endpoint and credentials of each, and the buckets
it serves (one source per bucket within a tenant, held by the primary key of ``source_buckets``).

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. The secret arrives sealed by the caller and
leaves as it came: this module never sees it in clear.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import now as _now
from shopfloor.registry.orm import SourceBucketRow, SourceRow, TenantRow
from shopfloor.registry.source_entities import Source


def _source(row: SourceRow, buckets: list[str]) -> Source:
    return Source(
        tenant=row.tenant,
        name=row.name,
        endpoint_url=row.endpoint_url,
        region=row.region,
        access_key_id=row.access_key_id,
        buckets=tuple(sorted(buckets)),
        sealed_secret=bytes(row.secret),
        created_at=_aware(row.created_at),
        created_by=row.created_by,
    )


def _buckets_of(s: Session, tenant: str, name: str) -> list[str]:
    same = (SourceBucketRow.tenant == tenant, SourceBucketRow.source == name)
    return list(s.scalars(select(SourceBucketRow.bucket).where(*same)))


def _row(s: Session, tenant: str, name: str) -> SourceRow:
    row = s.get(SourceRow, (tenant, name))
    if row is None:
        where = [{"loc": ["path", "name"], "msg": "no such source"}]
        raise NotFound(f"source {name!r} not found", errors=where)
    return row


class SourceTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def add_source(self, source: Source) -> Source:
        """Store a new source with its buckets in one transaction. Conflict, storing nothing, when
        the name is taken or a bucket is already served by another source of the tenant."""
        with self._session() as s:
            if s.get(TenantRow, source.tenant) is None:
                raise NotFound(f"tenant {source.tenant!r} not found")
            if s.get(SourceRow, (source.tenant, source.name)) is not None:
                raise Conflict(
                    f"a source named {source.name!r} already exists in this tenant",
                    errors=[{"loc": ["body", "name"], "msg": "name taken"}],
                )
            taken = (SourceBucketRow.tenant == source.tenant, SourceBucketRow.bucket.in_(source.buckets))
            served = select(SourceBucketRow.bucket, SourceBucketRow.source).where(*taken)
            for bucket, other in s.execute(served):
                raise Conflict(
                    f"bucket {bucket!r} is already served by source {other!r} of this tenant: a bucket "
                    "belongs to one source",
                    errors=[{"loc": ["body", "buckets"], "msg": f"bucket {bucket!r} taken by {other!r}"}],
                )
            row = SourceRow(
                tenant=source.tenant,
                name=source.name,
                endpoint_url=source.endpoint_url,
                region=source.region,
                access_key_id=source.access_key_id,
                secret=source.sealed_secret,
                created_at=_now(),
                created_by=source.created_by,
            )
            s.add(row)
            s.add_all(
                SourceBucketRow(tenant=source.tenant, bucket=b, source=source.name) for b in source.buckets
            )
            s.flush()
            return _source(row, list(source.buckets))

    def get_source(self, tenant: str, name: str) -> Source:
        with self._session() as s:
            return _source(_row(s, tenant, name), _buckets_of(s, tenant, name))

    def list_sources(self, tenant: str) -> list[Source]:
        with self._session() as s:
            rows = s.scalars(select(SourceRow).where(SourceRow.tenant == tenant).order_by(SourceRow.name))
            return [_source(row, _buckets_of(s, tenant, row.name)) for row in rows]

    def source_for_bucket(self, tenant: str, bucket: str) -> Source | None:
        """The tenant's source that serves ``bucket``, or None."""
        with self._session() as s:
            name = s.scalar(
                select(SourceBucketRow.source).where(
                    SourceBucketRow.tenant == tenant, SourceBucketRow.bucket == bucket
                )
            )
            if name is None:
                return None
            return _source(_row(s, tenant, name), _buckets_of(s, tenant, name))

    def delete_source(self, tenant: str, name: str) -> Source:
        """Delete a source and its buckets; the source as it was. NotFound for another tenant's."""
        with self._session() as s:
            found = _source(_row(s, tenant, name), _buckets_of(s, tenant, name))
            mine = (SourceBucketRow.tenant == tenant, SourceBucketRow.source == name)
            s.execute(delete(SourceBucketRow).where(*mine))
            s.execute(delete(SourceRow).where(SourceRow.tenant == tenant, SourceRow.name == name))
            return found

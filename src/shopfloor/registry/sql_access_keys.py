"""SQL for AWS-style access keys: each belongs to one API key and lives and dies with it.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. Lookups join the API key, so a revoked API
key's access keys fail in the same transaction that reads them: nothing to cache or invalidate.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopfloor.errors import NotFound
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import AccessKey
from shopfloor.registry.orm import AccessKeyRow, KeyRow


def _entity(row: AccessKeyRow, key: KeyRow) -> AccessKey:
    return AccessKey(
        id=row.id,
        tenant=row.tenant,
        api_key_id=row.api_key_id,
        sealed_secret=bytes(row.sealed_secret),
        created_at=_aware(row.created_at),
        active=key.revoked_at is None,
    )


class AccessKeyTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def add_access_key(self, key: AccessKey) -> AccessKey:
        """Store ``key`` for its API key, which must exist in the same tenant and be active
        (NotFound otherwise)."""
        with self._session() as s:
            api_key = s.get(KeyRow, key.api_key_id)
            if api_key is None or api_key.tenant != key.tenant or api_key.revoked_at is not None:
                raise NotFound(f"API key {key.api_key_id!r} not found")
            row = AccessKeyRow(
                id=key.id,
                tenant=key.tenant,
                api_key_id=key.api_key_id,
                sealed_secret=key.sealed_secret,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _entity(row, api_key)

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        """The access key ``access_key_id`` with its API key's state; None if nobody issued it."""
        with self._session() as s:
            found = s.execute(
                select(AccessKeyRow, KeyRow)
                .join(KeyRow, KeyRow.id == AccessKeyRow.api_key_id)
                .where(AccessKeyRow.id == access_key_id)
            ).first()
            return _entity(found[0], found[1]) if found is not None else None

    def list_access_keys(self, tenant: str) -> list[AccessKey]:
        """The tenant's access keys, oldest first (their secrets stay sealed)."""
        with self._session() as s:
            rows = s.execute(
                select(AccessKeyRow, KeyRow)
                .join(KeyRow, KeyRow.id == AccessKeyRow.api_key_id)
                .where(AccessKeyRow.tenant == tenant)
                .order_by(AccessKeyRow.created_at)
            )
            return [_entity(row, key) for row, key in rows]

"""SQL for readiness: a trivial query, and the schema revision the database is at.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`, read by ``GET /readyz``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import text
from sqlalchemy.orm import Session


class HealthQueries:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def ping(self) -> None:
        """One round trip; raises :class:`~shopfloor.errors.RegistryUnavailable` if it fails."""
        with self._session() as s:
            s.execute(text("SELECT 1"))

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self._session() as s:
            return MigrationContext.configure(s.connection()).get_current_revision()

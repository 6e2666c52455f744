"""SQL for the registry generation: one counter that every change to cached state moves.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. Every server process on every host that
shares the registry reads the counter (at most a few times a second, see
:class:`~shopfloor.security.keys.Generation`) and drops its caches of keys, aliases and quotas
when it has moved. The store's own mutators of such state (key revocation, aliases, quotas,
the masking policy) move it in the same transaction as the change, so no writer can forget.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopfloor.registry.orm import GenerationRow

#: The one counter the caches listen to (the table leaves room for finer-grained ones).
REGISTRY = "registry"


def bump_in(s: Session, name: str = REGISTRY) -> int:
    """Increment the counter ``name`` inside the open transaction ``s``; returns the new value."""
    # INSERT ... ON CONFLICT DO UPDATE: one statement, row-locked, on both backends.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(GenerationRow)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=[GenerationRow.name], set_={"value": GenerationRow.value + 1})
        .returning(GenerationRow.value)
    )
    return int(s.execute(stmt).scalar_one())


class GenerationTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def read_generation(self, name: str = REGISTRY) -> int:
        """The counter's value (0 before the first change); one primary-key read."""
        with self._session() as s:
            value = s.scalar(select(GenerationRow.value).where(GenerationRow.name == name))
            return int(value or 0)

    def bump_generation(self, name: str = REGISTRY) -> int:
        """Move the counter by one, atomically across processes and hosts; returns the new value."""
        with self._session() as s:
            return bump_in(s, name)

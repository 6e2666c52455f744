"""SQL for moving aliases: anywhere, or only from the version an alias is known to point at
(compare and set).

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. A promotion decided on a comparison with
the version in production (a retraining gate, ``POST /v1/models/{name}/promote`` with
``expected``) must not overwrite a move someone made meanwhile: the alias moves in one
conditional statement, atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from shopfloor.errors import Conflict
from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import ModelVersion
from shopfloor.registry.orm import AliasRow, ModelRow
from shopfloor.registry.sql_generation import bump_in


class AliasTables:
    """Needs ``self._session()``, ``self._model_row()``, ``self._aliases()`` and
    ``self._version_of()``, as SqlStore provides them."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def _model_row(self, s: Session, tenant: str, name: str) -> ModelRow:  # pragma: no cover
        raise NotImplementedError

    def _aliases(self, s: Session, model_id: int) -> dict[str, int]:  # pragma: no cover
        raise NotImplementedError

    def _version_of(
        self, s: Session, tenant: str, mrow: ModelRow, version: int
    ) -> ModelVersion:  # pragma: no cover
        raise NotImplementedError

    def set_alias(self, tenant: str, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` of ``name`` at ``version`` wherever it pointed, and move the generation."""
        with self._session() as s:
            mrow = self._model_row(s, tenant, name)
            self._version_of(s, tenant, mrow, version)  # raises NotFound for an unknown version
            row = s.get(AliasRow, (mrow.id, alias))
            if row is None:
                s.add(AliasRow(model_id=mrow.id, alias=alias, version=version, updated_at=_now()))
            else:
                row.version, row.updated_at = version, _now()
            s.flush()
            bump_in(s)
            return self._version_of(s, tenant, mrow, version)

    def set_alias_if(
        self, tenant: str, name: str, alias: str, version: int, expected: int | None
    ) -> ModelVersion:
        """Point ``alias`` of ``name`` at ``version`` only while it points at ``expected`` (None:
        while the model has no such alias), and move the generation; returns ``version``.

        Raises :class:`~shopfloor.errors.Conflict` naming where the alias points now when it has
        moved (nothing changes then), NotFound for an unknown model or version.
        """
        with self._session() as s:
            mrow = self._model_row(s, tenant, name)
            self._version_of(s, tenant, mrow, version)  # raises NotFound for an unknown version
            if expected is None:
                current = self._aliases(s, mrow.id).get(alias)
                moved = current is None
                if moved:
                    s.add(AliasRow(model_id=mrow.id, alias=alias, version=version, updated_at=_now()))
                    s.flush()  # a concurrent first move fails here (primary key): a Conflict too
            else:
                row = (AliasRow.model_id == mrow.id, AliasRow.alias == alias, AliasRow.version == expected)
                result = cast(
                    "CursorResult[Any]",
                    s.execute(update(AliasRow).where(*row).values(version=version, updated_at=_now())),
                )
                moved = result.rowcount == 1
                current = None if moved else self._aliases(s, mrow.id).get(alias)
            if not moved:
                now = "no version" if current is None else f"version {current}"
                was = "no version" if expected is None else f"version {expected}"
                raise Conflict(
                    f"{alias} of {name!r} points at {now}, not {was} as expected: it moved meanwhile",
                    errors=[{"loc": ["body", "expected"], "msg": f"{alias} is at {now}"}],
                )
            bump_in(s)
            return self._version_of(s, tenant, mrow, version)

"""SQL for challengers: how each model's challenger runs, and its promotion to production.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. The challenger is the version behind the
model's ``challenger`` alias (an ordinary alias row); its mode lives in ``model_challengers`` (no row:
off). Every change moves the registry generation in its own transaction, so every server process on
every host drops its cached modes and alias resolutions together.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import now as _now
from shopfloor.registry.entities import CHALLENGER_ALIAS, PRODUCTION, ChallengerSetting
from shopfloor.registry.orm import AliasRow, ChallengerRow, ModelRow, VersionRow
from shopfloor.registry.sql_generation import bump_in


def drop_challenger_in(s: Session, tenant: str, model: str) -> None:
    """Remove the challenger mode of ``model`` inside transaction ``s`` (the model is being deleted)."""
    s.execute(delete(ChallengerRow).where(ChallengerRow.tenant == tenant, ChallengerRow.model == model))


def _locked_model(s: Session, tenant: str, name: str) -> ModelRow:
    """The model's row, write-locked before anything is read: a no-op update takes the row lock on
    PostgreSQL and the database's write lock on SQLite, so two changes of one model's aliases apply
    one after the other and neither decides on what it read before the other committed."""
    same = (ModelRow.tenant == tenant, ModelRow.name == name)
    s.execute(update(ModelRow).where(*same).values(name=ModelRow.name))
    row = s.scalar(select(ModelRow).where(*same))
    if row is None:
        raise NotFound(f"model {name!r} not found")
    return row


def _aliases(s: Session, model_id: int) -> dict[str, int]:
    rows = s.execute(select(AliasRow.alias, AliasRow.version).where(AliasRow.model_id == model_id))
    return {alias: int(version) for alias, version in rows}


def _point(s: Session, model_id: int, alias: str, version: int) -> None:
    row = s.get(AliasRow, (model_id, alias))
    if row is None:
        s.add(AliasRow(model_id=model_id, alias=alias, version=version, updated_at=_now()))
    else:
        row.version, row.updated_at = version, _now()


class ChallengerTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def challenger_modes(self, tenant: str) -> dict[str, tuple[str, float]]:
        """The tenant's models whose challenger runs, with its mode and share (models not listed: off)."""
        with self._session() as s:
            rows = s.execute(
                select(ChallengerRow.model, ChallengerRow.mode, ChallengerRow.share).where(
                    ChallengerRow.tenant == tenant
                )
            )
            return {model: (mode, float(share)) for model, mode, share in rows}

    def get_challenger(self, tenant: str, name: str) -> ChallengerSetting:
        """The challenger of model ``name``: its mode and the versions on each side. NotFound for an
        unknown model (or another tenant's)."""
        with self._session() as s:
            mrow = s.scalar(select(ModelRow).where(ModelRow.tenant == tenant, ModelRow.name == name))
            if mrow is None:
                raise NotFound(f"model {name!r} not found")
            return self._setting(s, tenant, mrow)

    def set_challenger(
        self,
        tenant: str,
        name: str,
        mode: str,
        share: float,
        *,
        version: int | None = None,
        by: str | None = None,
    ) -> ChallengerSetting:
        """Run the challenger of ``name`` in ``mode`` (``off`` removes the setting), first pointing the
        ``challenger`` alias at ``version`` when given; one transaction that moves the generation.

        Raises NotFound for an unknown model or version; Conflict for a shadow or canary mode without a
        challenger, or with the challenger being the production version itself (nothing to compare).
        """
        with self._session() as s:
            mrow = _locked_model(s, tenant, name)
            if version is not None:
                same = (VersionRow.model_id == mrow.id, VersionRow.version == version)
                found = s.scalar(select(VersionRow.version).where(*same))
                if found is None:
                    raise NotFound(
                        f"model {name!r} has no version {version}",
                        errors=[{"loc": ["body", "version"], "msg": "no such version"}],
                    )
                _point(s, mrow.id, CHALLENGER_ALIAS, version)
                s.flush()
            aliases = _aliases(s, mrow.id)
            row = s.get(ChallengerRow, (tenant, name))
            if mode == "off":
                if row is not None:
                    s.delete(row)
            else:
                _check_sides(name, aliases)
                if row is None:
                    row = ChallengerRow(tenant=tenant, model=name, mode=mode, share=share)
                    s.add(row)
                row.mode, row.share, row.updated_at, row.updated_by = mode, share, _now(), by
            s.flush()
            bump_in(s)
            return self._setting(s, tenant, mrow)

    def promote_challenger(
        self, tenant: str, name: str, expected: int, champion: int | None = None
    ) -> tuple[int | None, int]:
        """Point ``production`` at the challenger, remove the ``challenger`` alias and turn the mode
        off, in one transaction that moves the generation, if the challenger is still version
        ``expected`` (and production still version ``champion``, when given). Returns the versions
        behind production before and after.

        Raises NotFound for an unknown model; Conflict when there is no challenger or either side is
        no longer the version the caller saw (someone changed it meanwhile: nothing is changed).
        """
        with self._session() as s:
            mrow = _locked_model(s, tenant, name)
            aliases = _aliases(s, mrow.id)
            now, before = aliases.get(CHALLENGER_ALIAS), aliases.get(PRODUCTION)
            if now is None:
                raise Conflict(
                    f"model {name!r} has no challenger to promote",
                    errors=[{"loc": ["path", "name"], "msg": "no challenger"}],
                )
            if now != expected:
                raise Conflict(
                    f"the challenger of model {name!r} is now version {now}, not version {expected}: "
                    "it was changed meanwhile; read its report again before promoting",
                    errors=[{"loc": ["body", "version"], "msg": f"the challenger is version {now}"}],
                )
            if champion is not None and before != champion:
                raise Conflict(
                    f"production of model {name!r} is now version {before}, not version {champion}: "
                    "it was moved meanwhile; read the report again before promoting",
                    errors=[{"loc": ["body", "champion"], "msg": f"production is version {before}"}],
                )
            _point(s, mrow.id, PRODUCTION, now)
            gone = (AliasRow.model_id == mrow.id, AliasRow.alias == CHALLENGER_ALIAS)
            s.execute(delete(AliasRow).where(*gone))
            drop_challenger_in(s, tenant, name)
            s.flush()
            bump_in(s)
            return before, now

    def _setting(self, s: Session, tenant: str, mrow: ModelRow) -> ChallengerSetting:
        aliases = _aliases(s, mrow.id)
        row = s.get(ChallengerRow, (tenant, mrow.name))
        return ChallengerSetting(
            tenant=tenant,
            model=mrow.name,
            mode=row.mode if row is not None else "off",
            share=float(row.share) if row is not None else 0.0,
            champion=aliases.get(PRODUCTION),
            challenger=aliases.get(CHALLENGER_ALIAS),
            updated_at=_aware(row.updated_at) if row is not None else None,
            updated_by=row.updated_by if row is not None else None,
        )


def _check_sides(name: str, aliases: dict[str, int]) -> None:
    challenger = aliases.get(CHALLENGER_ALIAS)
    if challenger is None:
        raise Conflict(
            f"model {name!r} has no challenger: give the version to try (version=) or point its "
            f"{CHALLENGER_ALIAS!r} alias at one first",
            errors=[{"loc": ["body", "version"], "msg": "no challenger alias"}],
        )
    if challenger == aliases.get(PRODUCTION):
        raise Conflict(
            f"the challenger of model {name!r} is version {challenger}, the production version itself: "
            "choose another version to compare",
            errors=[{"loc": ["body", "version"], "msg": "the challenger is the production version"}],
        )

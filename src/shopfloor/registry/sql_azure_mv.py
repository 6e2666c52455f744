"""SQL for the Azure Anomaly Detector multivariate facade: Azure model and result ids mapped to
Shopfloor models and jobs (see :mod:`shopfloor.registry.azure_entities`).

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. Every lookup is scoped by tenant: another
tenant's id is not found.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shopfloor.errors import NotFound
from shopfloor.registry.azure_entities import AzureModel, AzureResult
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import now as _now
from shopfloor.registry.orm import AzureModelRow, AzureResultRow


def _model(row: AzureModelRow) -> AzureModel:
    return AzureModel(
        tenant=row.tenant,
        model_id=row.model_id,
        model=row.model,
        job_id=row.job_id,
        dataset_id=row.dataset_id,
        info=dict(row.info),
        variable_states=list(row.variable_states),
        created_at=_aware(row.created_at),
    )


def _result(row: AzureResultRow) -> AzureResult:
    return AzureResult(
        tenant=row.tenant,
        result_id=row.result_id,
        model_id=row.model_id,
        job_id=row.job_id,
        setup=dict(row.setup),
        variable_states=list(row.variable_states),
        created_at=_aware(row.created_at),
    )


def _missing_model(model_id: str) -> NotFound:
    msg = f"model {model_id!r} does not exist"
    return NotFound(msg, errors=[{"loc": ["path", "modelId"], "msg": msg, "type": "ModelNotExist"}])


class AzureMultivariateTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

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
    ) -> AzureModel:
        with self._session() as s:
            row = AzureModelRow(
                tenant=tenant,
                model_id=model_id,
                model=model,
                job_id=job_id,
                dataset_id=dataset_id,
                info=info,
                variable_states=variable_states,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _model(row)

    def get_azure_model(self, tenant: str, model_id: str) -> AzureModel:
        with self._session() as s:
            row = s.get(AzureModelRow, (tenant, model_id))
            if row is None:
                raise _missing_model(model_id)
            return _model(row)

    def list_azure_models(self, tenant: str, skip: int, top: int) -> tuple[list[AzureModel], int]:
        """The tenant's models, newest first, ``top`` of them after ``skip``; and how many there are."""
        with self._session() as s:
            total = s.scalar(select(func.count()).where(AzureModelRow.tenant == tenant)) or 0
            rows = s.scalars(
                select(AzureModelRow)
                .where(AzureModelRow.tenant == tenant)
                .order_by(AzureModelRow.created_at.desc(), AzureModelRow.model_id)
                .offset(skip)
                .limit(top)
            )
            return [_model(r) for r in rows], int(total)

    def delete_azure_model(self, tenant: str, model_id: str) -> tuple[AzureModel, list[AzureResult]]:
        """Remove the model and its batch results in one transaction; returns what was removed."""
        with self._session() as s:
            row = s.get(AzureModelRow, (tenant, model_id))
            if row is None:
                raise _missing_model(model_id)
            same = (AzureResultRow.tenant == tenant, AzureResultRow.model_id == model_id)
            results = [_result(r) for r in s.scalars(select(AzureResultRow).where(*same))]
            s.execute(delete(AzureResultRow).where(*same))
            gone = _model(row)
            s.delete(row)
            return gone, results

    def add_azure_result(
        self,
        *,
        tenant: str,
        result_id: str,
        model_id: str,
        job_id: str,
        setup: dict[str, Any],
        variable_states: list[dict[str, Any]],
    ) -> AzureResult:
        with self._session() as s:
            row = AzureResultRow(
                tenant=tenant,
                result_id=result_id,
                model_id=model_id,
                job_id=job_id,
                setup=setup,
                variable_states=variable_states,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _result(row)

    def get_azure_result(self, tenant: str, result_id: str) -> AzureResult:
        with self._session() as s:
            row = s.get(AzureResultRow, (tenant, result_id))
            if row is None:
                msg = f"result {result_id!r} does not exist"
                where = {"loc": ["path", "resultId"], "msg": msg, "type": "ResultNotExist"}
                raise NotFound(msg, errors=[where])
            return _result(row)


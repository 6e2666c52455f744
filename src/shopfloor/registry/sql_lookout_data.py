"""SQL for the Lookout for Equipment facade's data side: datasets, ingestion jobs, label groups and
labels. A mixin of :class:`~shopfloor.registry.sql.SqlStore`.

Creations are idempotent as Lookout's are: the same name with the same client token returns what
the first call created; the same name with another token is a Conflict. Every lookup is scoped by
tenant (another tenant's name is NotFound).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.clock import aware as _aware
from shopfloor.registry.clock import naive as _naive
from shopfloor.registry.clock import now as _now
from shopfloor.registry.lookout_data_entities import Label, LabelGroup, LookoutDataset, LookoutIngestion
from shopfloor.registry.orm import LabelGroupRow, LabelRow, LookoutDatasetRow, LookoutIngestionRow


def _dataset(r: LookoutDatasetRow) -> LookoutDataset:
    return LookoutDataset(
        tenant=r.tenant,
        name=r.name,
        schema=dict(r.schema),
        client_token=r.client_token,
        created_at=_aware(r.created_at),
        updated_at=_aware(r.updated_at),
        tags=list(r.tags or []),
    )


def _ingestion(r: LookoutIngestionRow) -> LookoutIngestion:
    return LookoutIngestion(
        id=r.id,
        tenant=r.tenant,
        dataset=r.dataset,
        bucket=r.bucket,
        prefix=r.prefix,
        key_pattern=r.key_pattern,
        role_arn=r.role_arn,
        client_token=r.client_token,
        created_at=_aware(r.created_at),
    )


def _group(r: LabelGroupRow) -> LabelGroup:
    return LabelGroup(
        tenant=r.tenant,
        name=r.name,
        fault_codes=list(r.fault_codes or []),
        client_token=r.client_token,
        created_at=_aware(r.created_at),
        updated_at=_aware(r.updated_at),
    )


def _label(r: LabelRow) -> Label:
    return Label(
        id=r.id,
        tenant=r.tenant,
        group=r.group_name,
        start=_aware(r.start),
        end=_aware(r.end),
        rating=r.rating,
        client_token=r.client_token,
        created_at=_aware(r.created_at),
        fault_code=r.fault_code,
        notes=r.notes,
        equipment=r.equipment,
    )


def _taken(kind: str, name: str) -> Conflict:
    return Conflict(f"{kind} {name!r} already exists (created with another ClientToken)")


class LookoutDataTables:
    """Needs ``self._session()``: one managed unit of work, as SqlStore provides."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    # ---- datasets -------------------------------------------------------------------------------
    def add_lookout_dataset(self, dataset: LookoutDataset) -> tuple[LookoutDataset, bool]:
        """Store ``dataset``; ``(stored, created)``: the existing one for a repeated client token."""
        with self._session() as s:
            row = s.get(LookoutDatasetRow, (dataset.tenant, dataset.name))
            if row is not None:
                if row.client_token != dataset.client_token:
                    raise _taken("dataset", dataset.name)
                return _dataset(row), False
            row = LookoutDatasetRow(
                tenant=dataset.tenant,
                name=dataset.name,
                schema=dataset.schema,
                tags=dataset.tags,
                client_token=dataset.client_token,
                created_at=_now(),
                updated_at=_now(),
            )
            s.add(row)
            s.flush()
            return _dataset(row), True

    def get_lookout_dataset(self, tenant: str, name: str) -> LookoutDataset:
        with self._session() as s:
            row = s.get(LookoutDatasetRow, (tenant, name))
            if row is None:
                raise NotFound(f"dataset {name!r} not found")
            return _dataset(row)

    def list_lookout_datasets(self, tenant: str, begins_with: str | None = None) -> list[LookoutDataset]:
        """The tenant's datasets by name (those whose name starts with ``begins_with``)."""
        with self._session() as s:
            query = select(LookoutDatasetRow).where(LookoutDatasetRow.tenant == tenant)
            rows = s.scalars(query.order_by(LookoutDatasetRow.name))
            return [_dataset(r) for r in rows if not begins_with or r.name.startswith(begins_with)]

    def set_lookout_dataset_schema(self, tenant: str, name: str, schema: dict[str, Any]) -> LookoutDataset:
        """Give a dataset created without a schema the one its first ingestion found."""
        with self._session() as s:
            row = s.get(LookoutDatasetRow, (tenant, name))
            if row is None:
                raise NotFound(f"dataset {name!r} not found")
            row.schema, row.updated_at = schema, _now()
            s.flush()
            return _dataset(row)

    def delete_lookout_dataset(self, tenant: str, name: str) -> None:
        """Remove the dataset and its ingestion records (the Shopfloor datasets they stored stay)."""
        with self._session() as s:
            row = s.get(LookoutDatasetRow, (tenant, name))
            if row is None:
                raise NotFound(f"dataset {name!r} not found")
            mine = (LookoutIngestionRow.tenant == tenant, LookoutIngestionRow.dataset == name)
            s.execute(delete(LookoutIngestionRow).where(*mine))
            s.delete(row)

    # ---- ingestion jobs ---------------------------------------------------------------------------
    def add_lookout_ingestion(self, ingestion: LookoutIngestion) -> LookoutIngestion:
        with self._session() as s:
            if s.get(LookoutDatasetRow, (ingestion.tenant, ingestion.dataset)) is None:
                raise NotFound(f"dataset {ingestion.dataset!r} not found")
            row = LookoutIngestionRow(
                id=ingestion.id,
                tenant=ingestion.tenant,
                dataset=ingestion.dataset,
                bucket=ingestion.bucket,
                prefix=ingestion.prefix,
                key_pattern=ingestion.key_pattern,
                role_arn=ingestion.role_arn,
                client_token=ingestion.client_token,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _ingestion(row)

    def get_lookout_ingestion(self, tenant: str, ingestion_id: str) -> LookoutIngestion:
        with self._session() as s:
            row = s.get(LookoutIngestionRow, ingestion_id)
            if row is None or row.tenant != tenant:
                raise NotFound(f"data ingestion job {ingestion_id!r} not found")
            return _ingestion(row)

    def list_lookout_ingestions(self, tenant: str, dataset: str | None = None) -> list[LookoutIngestion]:
        """The tenant's ingestion jobs (of ``dataset``), newest first."""
        with self._session() as s:
            query = select(LookoutIngestionRow).where(LookoutIngestionRow.tenant == tenant)
            if dataset is not None:
                query = query.where(LookoutIngestionRow.dataset == dataset)
            order = (LookoutIngestionRow.created_at.desc(), LookoutIngestionRow.id.desc())
            return [_ingestion(r) for r in s.scalars(query.order_by(*order))]

    # ---- label groups and labels -------------------------------------------------------------------
    def add_label_group(self, group: LabelGroup) -> LabelGroup:
        with self._session() as s:
            row = s.get(LabelGroupRow, (group.tenant, group.name))
            if row is not None:
                if row.client_token != group.client_token:
                    raise _taken("label group", group.name)
                return _group(row)
            row = LabelGroupRow(
                tenant=group.tenant,
                name=group.name,
                fault_codes=group.fault_codes,
                client_token=group.client_token,
                created_at=_now(),
                updated_at=_now(),
            )
            s.add(row)
            s.flush()
            return _group(row)

    def get_label_group(self, tenant: str, name: str) -> LabelGroup:
        with self._session() as s:
            row = s.get(LabelGroupRow, (tenant, name))
            if row is None:
                raise NotFound(f"label group {name!r} not found")
            return _group(row)

    def list_label_groups(self, tenant: str, begins_with: str | None = None) -> list[LabelGroup]:
        with self._session() as s:
            rows = s.scalars(
                select(LabelGroupRow).where(LabelGroupRow.tenant == tenant).order_by(LabelGroupRow.name)
            )
            return [_group(r) for r in rows if not begins_with or r.name.startswith(begins_with)]

    def update_label_group(self, tenant: str, name: str, fault_codes: list[str]) -> LabelGroup:
        with self._session() as s:
            row = s.get(LabelGroupRow, (tenant, name))
            if row is None:
                raise NotFound(f"label group {name!r} not found")
            row.fault_codes, row.updated_at = list(fault_codes), _now()
            s.flush()
            return _group(row)

    def delete_label_group(self, tenant: str, name: str) -> None:
        """Remove the group and its labels."""
        with self._session() as s:
            row = s.get(LabelGroupRow, (tenant, name))
            if row is None:
                raise NotFound(f"label group {name!r} not found")
            s.execute(delete(LabelRow).where(LabelRow.tenant == tenant, LabelRow.group_name == name))
            s.delete(row)

    def add_label(self, label: Label) -> Label:
        """Store ``label`` in its group (NotFound without one); a repeated client token in the same
        group returns the label it created."""
        with self._session() as s:
            if s.get(LabelGroupRow, (label.tenant, label.group)) is None:
                raise NotFound(f"label group {label.group!r} not found")
            same = (
                LabelRow.tenant == label.tenant,
                LabelRow.group_name == label.group,
                LabelRow.client_token == label.client_token,
            )
            earlier = s.scalar(select(LabelRow).where(*same))
            if earlier is not None:
                return _label(earlier)
            row = LabelRow(
                id=label.id,
                tenant=label.tenant,
                group_name=label.group,
                start=_naive(label.start),
                end=_naive(label.end),
                rating=label.rating,
                fault_code=label.fault_code,
                notes=label.notes,
                equipment=label.equipment,
                client_token=label.client_token,
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            return _label(row)

    def get_label(self, tenant: str, group: str, label_id: str) -> Label:
        with self._session() as s:
            row = s.get(LabelRow, label_id)
            if row is None or row.tenant != tenant or row.group_name != group:
                raise NotFound(f"label {label_id!r} not found in label group {group!r}")
            return _label(row)

    def list_labels(
        self, tenant: str, group: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[Label]:
        """The group's labels in time order; with ``start``/``end``, those overlapping that interval.
        NotFound for an unknown group."""
        with self._session() as s:
            if s.get(LabelGroupRow, (tenant, group)) is None:
                raise NotFound(f"label group {group!r} not found")
            query = select(LabelRow).where(LabelRow.tenant == tenant, LabelRow.group_name == group)
            if start is not None:
                query = query.where(LabelRow.end >= _naive(start))
            if end is not None:
                query = query.where(LabelRow.start <= _naive(end))
            return [_label(r) for r in s.scalars(query.order_by(LabelRow.start, LabelRow.id))]

    def delete_label(self, tenant: str, group: str, label_id: str) -> None:
        with self._session() as s:
            row = s.get(LabelRow, label_id)
            if row is None or row.tenant != tenant or row.group_name != group:
                raise NotFound(f"label {label_id!r} not found in label group {group!r}")
            s.delete(row)

"""What an ingestion job is now, read from its Shopfloor job: Lookout's status, and its result.

Shared by the datasets (DescribeDataset shows the latest ingestion), the ingestion operations and
the models of the facade (a model trains on the table its dataset's latest successful ingestion
stored: :func:`ingested_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import NotFound
from shopfloor.registry.entities import Job
from shopfloor.registry.lookout_data_entities import LookoutIngestion

#: Lookout's ingestion states, from the Shopfloor job's.
STATUS = {"queued": "IN_PROGRESS", "running": "IN_PROGRESS", "succeeded": "SUCCESS"}


@dataclass(frozen=True)
class Ingested:
    ingestion: LookoutIngestion
    job: Job

    @property
    def status(self) -> str:
        return STATUS.get(self.job.status, "FAILED")

    @property
    def result(self) -> dict[str, Any]:
        return (self.job.result or {}) if self.job.status == "succeeded" else {}


def ingested(platform: Platform, ingestion: LookoutIngestion) -> Ingested:
    return Ingested(ingestion, platform.store.get_job(ingestion.tenant, ingestion.id))


def history(platform: Platform, tenant: str, dataset: str) -> list[Ingested]:
    """The dataset's ingestions, newest first."""
    return [ingested(platform, i) for i in platform.store.list_lookout_ingestions(tenant, dataset)]


def latest_success(platform: Platform, tenant: str, dataset: str) -> Ingested | None:
    return next((i for i in history(platform, tenant, dataset) if i.status == "SUCCESS"), None)


def ingested_table(platform: Platform, tenant: str, dataset: str) -> tuple[str, str, list[str]]:
    """``(Shopfloor dataset id, time column, sensor columns)`` of the table the Lookout dataset's
    latest successful ingestion stored. NotFound for an unknown dataset; InvalidInput-free: a dataset
    without a successful ingestion is NotFound too, saying so."""
    platform.store.get_lookout_dataset(tenant, dataset)
    done = latest_success(platform, tenant, dataset)
    if done is None:
        raise NotFound(f"dataset {dataset!r} has no successful data ingestion yet: run StartDataIngestionJob")
    return done.result["dataset_id"], done.result["time_column"], list(done.result["sensors"])

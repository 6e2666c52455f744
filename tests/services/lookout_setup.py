"""What the Lookout model and scheduler service tests share: a platform whose tenant has a source
on the test S3 server, and C-MAPSS engines stored as a wide sensor table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lookout_data as ld
from s3server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.data.stored import store_table
from shopfloor.jobs.execution import run_job
from shopfloor.security.keys import Principal
from shopfloor.services import sources
from shopfloor.services.lookout_training import SensorTable
from shopfloor.settings import Settings

PLANT = Principal(key_id="key_plant", tenant="plant-a", role="builder")
OTHER = Principal(key_id="key_other", tenant="plant-b", role="builder")
#: Training engines, then evaluation engines (FD001 unit numbers).
TRAIN_UNITS, EVAL_UNITS = [1, 2, 3, 4], [50, 51, 52]


@dataclass
class Plant:
    platform: Platform
    s3: Any
    bucket: str
    table: pd.DataFrame  # unit, Timestamp, component\sensor columns
    dataset_id: str

    def finder(self, platform: Platform, tenant: str, name: str) -> SensorTable:
        """The dataset of the tests for ``pump-1`` of the plant's tenant; NotFound otherwise."""
        from shopfloor.errors import NotFound

        if tenant != PLANT.tenant or name != "pump-1":
            raise NotFound(f"dataset {name!r} not found")
        sensors = [c for c in self.table.columns if "\\" in c]
        return SensorTable(self.dataset_id, ld.TIME, sensors, ld.components())

    def boundary(self) -> datetime:
        """Where the evaluation engines start (the training range ends there)."""
        first = self.table[self.table["unit"] == EVAL_UNITS[0]][ld.TIME].iloc[0]
        return pd.Timestamp(first).to_pydatetime()

    def run_jobs(self) -> None:
        store = self.platform.store
        while (job := store.claim_job("test:0")) is not None:
            run_job(self.platform, job, lambda *_: None, store.finish_job)


def make_plant(tmp: Path, server: MotoServer, bucket: str, data_dir: Path) -> Plant:
    """A platform whose tenant's source serves ``bucket`` (made here) and holds the engines' table
    as dataset ``pump-1``; the calling test is skipped without C-MAPSS."""
    if not (data_dir / "cmapss" / "train_FD001.txt").exists():
        pytest.skip("C-MAPSS not found")
    platform = prepare(
        Settings(
            home=tmp / "home",
            source_allowed_networks=["127.0.0.1/32"],
            default_time_budget_s=20.0,
            lookout_scheduler_poll_s=0.2,
        )
    )
    for p in (PLANT, OTHER):
        platform.store.ensure_tenant(p.tenant)
    sources.add_source(
        platform,
        PLANT,
        name="plant-s3",
        endpoint_url=server.url,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret=SECRET_KEY,
        buckets=[bucket],
    )
    s3 = server.client()
    s3.create_bucket(Bucket=bucket)
    table = ld.timeline(ld.fd001(data_dir, TRAIN_UNITS + EVAL_UNITS))
    path = tmp / "pump-1.csv"
    path.write_bytes(ld.wide_csv(table))
    data = path.read_bytes()
    dataset = store_table(
        platform, PLANT.tenant, path, name="pump-1", size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    return Plant(platform, s3, bucket, table, dataset.id)

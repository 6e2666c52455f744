"""Lookout for Equipment models as Shopfloor training jobs: create, read, list, delete.

A Lookout model is a Shopfloor model of the same name, trained by a ``lookout_train`` job
(:mod:`shopfloor.jobs.lookout_train`): the label-free ``anomaly`` family on the dataset's sensors,
within the training range, resampled to the target rate, without the rows the off condition
removes, with labels (a label group, or CSV files in the tenant's bucket) kept out of training and
used to evaluate. The job goes through the same queue, quotas and audit as ``POST /v1/jobs``; its
version is sealed and registered like any other. This module checks a request completely before
anything is stored, and reads back what Lookout's DescribeModel shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.lookout import SAMPLING_RATES, off_condition
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.registry.entities import Job, ModelVersion
from shopfloor.registry.ids import new_id
from shopfloor.registry.lookout_entities import LookoutModel
from shopfloor.security.keys import Principal
from shopfloor.services import audit, models, sources
from shopfloor.services.queueing import check_room, queue

#: The most bytes of label files read for one model.
LABEL_BYTES = 16 * 1024 * 1024
#: Lookout's model states, from the state of the training job.
STATUS = {"queued": "IN_PROGRESS", "running": "IN_PROGRESS", "succeeded": "SUCCESS"}


@dataclass(frozen=True)
class ModelSpec:
    """A CreateModel request, parsed: names, the sensors (None: every sensor of the dataset), the
    labels (a group name, or bucket and prefix of CSV files), the ranges (UTC), the target sampling
    rate (``PT5M`` ...), the off condition, and what DescribeModel echoes back (``echo``)."""

    name: str
    dataset_name: str
    client_token: str
    sensors: list[str] | None = None
    label_group: str | None = None
    labels_s3: tuple[str, str] | None = None
    training: tuple[datetime | None, datetime | None] = (None, None)
    evaluation: tuple[datetime, datetime] | None = None
    sampling: str | None = None
    off: str | None = None
    echo: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SensorTable:
    """Where a Lookout dataset's wide table is: the Shopfloor dataset, its time column, its sensors
    (``component\\sensor``), and the schema's components (``name``, ``time_column``, ``sensors``:
    how inference files of the same layout are read)."""

    dataset_id: str
    time_column: str
    sensors: list[str]
    components: list[dict[str, Any]]


#: How a Lookout dataset name is found (tenant, name) -> table; and a label group's ranges.
TableFinder = Callable[[Platform, str, str], SensorTable]
LabelFinder = Callable[[Platform, str, str], list[tuple[datetime, datetime]]]


def _field(name: str, detail: str) -> InvalidInput:
    return InvalidInput(detail, errors=[{"loc": ["body", name], "msg": detail}])


def _ranges(spec: ModelSpec) -> None:
    start, end = spec.training
    if (start is None) != (end is None):
        raise _field(
            "TrainingDataStartTime", "give both TrainingDataStartTime and TrainingDataEndTime, or neither"
        )
    if start is not None and end is not None and start >= end:
        raise _field("TrainingDataEndTime", "TrainingDataEndTime must be after TrainingDataStartTime")
    if spec.evaluation is not None:
        a, b = spec.evaluation
        if a >= b:
            raise _field(
                "EvaluationDataEndTime", "EvaluationDataEndTime must be after EvaluationDataStartTime"
            )
        if end is not None and a < end:
            raise _field(
                "EvaluationDataStartTime", "the evaluation range must start at or after TrainingDataEndTime"
            )
    if spec.sampling is not None and spec.sampling not in SAMPLING_RATES:
        raise _field(
            "DataPreProcessingConfiguration",
            f"TargetSamplingRate {spec.sampling!r} is not one of {', '.join(SAMPLING_RATES)}",
        )


def _sensors(spec: ModelSpec, table: SensorTable) -> list[str]:
    if spec.sensors is None:
        return list(table.sensors)
    missing = [s for s in spec.sensors if s not in table.sensors]
    if missing:
        raise _field(
            "DatasetSchema",
            f"dataset {spec.dataset_name!r} has no sensor {', '.join(map(repr, missing[:5]))}; "
            f"it has {', '.join(table.sensors[:20])}",
        )
    if not spec.sensors:
        raise _field("DatasetSchema", "the schema names no sensor")
    return list(spec.sensors)


def _components(table: SensorTable, sensors: list[str]) -> list[dict[str, Any]]:
    """The schema's components, each with the sensors the model reads (components without one left out)."""
    out = []
    for c in table.components:
        kept = [s for s in c["sensors"] if f"{c['name']}\\{s}" in sensors]
        if kept:
            out.append({"name": c["name"], "time_column": c["time_column"], "sensors": kept})
    return out


def s3_labels(platform: Platform, tenant: str, bucket: str, prefix: str) -> list[tuple[datetime, datetime]]:
    """The anomaly ranges of the label CSV files under ``s3://bucket/prefix`` (each row: start, end
    and optionally a rating; rows rated NORMAL or NEUTRAL are not anomalies)."""
    objects = [o for o in sources.list_objects(platform, tenant, bucket, prefix) if o.key.endswith(".csv")]
    if not objects:
        raise _field("LabelsInputConfiguration", f"no .csv label file under s3://{bucket}/{prefix}")
    out: list[tuple[datetime, datetime]] = []
    budget = LABEL_BYTES
    for obj in objects:
        data = sources.read_object(platform, tenant, bucket, obj.key, max_bytes=budget)
        budget -= len(data)
        out += parse_labels(data, f"s3://{bucket}/{obj.key}")
    return out


def parse_labels(data: bytes, where: str) -> list[tuple[datetime, datetime]]:
    """Lookout's label file: rows of start time, end time[, rating, ...], without a header."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise _field("LabelsInputConfiguration", f"{where}: not a CSV file: {exc}") from None
    out = []
    for i, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise _field("LabelsInputConfiguration", f"{where}: row {i} needs a start and an end time")
        if len(row) > 2 and row[2].strip().upper() in ("NORMAL", "NEUTRAL"):
            continue
        try:
            start, end = (pd.Timestamp(v.strip(), tz="UTC").to_pydatetime() for v in row[:2])
        except (ValueError, TypeError):
            detail = f"{where}: row {i} has no readable start and end"
            raise _field("LabelsInputConfiguration", detail) from None
        if end < start:
            raise _field("LabelsInputConfiguration", f"{where}: row {i} ends before it starts")
        out.append((start, end))
    return out


def _labels(
    platform: Platform, tenant: str, spec: ModelSpec, groups: LabelFinder
) -> list[tuple[datetime, datetime]]:
    if spec.label_group is not None:
        return groups(platform, tenant, spec.label_group)
    if spec.labels_s3 is not None:
        return s3_labels(platform, tenant, *spec.labels_s3)
    return []


def _taken(platform: Platform, tenant: str, spec: ModelSpec) -> LookoutModel | None:
    """The model already made by this request (same client token), or Conflict when the name is taken."""
    try:
        found = platform.store.get_lookout_model(tenant, spec.name)
    except NotFound:
        found = None
    if found is not None:
        if found.client_token == spec.client_token:
            return found
        raise Conflict(f"a model named {spec.name!r} already exists")
    try:
        platform.store.get_model(tenant, spec.name)
    except NotFound:
        return None
    raise Conflict(f"a Shopfloor model named {spec.name!r} already exists; choose another ModelName")


def create_model(
    platform: Platform,
    principal: Principal,
    spec: ModelSpec,
    tables: TableFinder,
    groups: LabelFinder,
) -> LookoutModel:
    """Check the request against its dataset and queue the training job (within the tenant's job
    quota, audited as a training); the same client token again answers the model it made."""
    tenant = principal.tenant
    again = _taken(platform, tenant, spec)
    if again is not None:
        return again
    _ranges(spec)
    table = tables(platform, tenant, spec.dataset_name)
    sensors = _sensors(spec, table)
    off = off_condition(spec.off, sensors)
    labels = _labels(platform, tenant, spec, groups)
    check_room(platform, tenant)
    iso = [t.isoformat() if t else None for t in spec.training]
    params = {
        "model_name": spec.name,
        "dataset_id": table.dataset_id,
        "dataset_name": spec.dataset_name,
        "time_column": table.time_column,
        "sensors": sensors,
        "components": _components(table, sensors),
        "sampling_s": SAMPLING_RATES.get(spec.sampling or ""),
        "training": iso,
        "evaluation": [t.isoformat() for t in spec.evaluation] if spec.evaluation else None,
        "off": {"sensor": off.sensor, "op": off.op, "value": off.value} if off else None,
        "labels": [[a.isoformat(), b.isoformat()] for a, b in labels],
        "time_budget_s": platform.settings.default_time_budget_s,
    }
    job_id = new_id("job")
    model = platform.store.add_lookout_model(
        LookoutModel(
            tenant=tenant,
            name=spec.name,
            uid=new_id("lkm"),
            dataset_name=spec.dataset_name,
            job_id=job_id,
            config=spec.echo,
            client_token=spec.client_token,
        )
    )
    try:
        queue(
            platform, principal, "lookout_train", params, job_id=job_id, model=spec.name, protocol="lookout"
        )
    except Exception:
        platform.store.delete_lookout_model(tenant, spec.name)  # nothing stays of a refused request
        raise
    return model


@dataclass(frozen=True)
class ModelState:
    """What DescribeModel shows of a model beside its request: the job's state, times and error,
    and once trained, the version with its metrics and quality."""

    model: LookoutModel
    job: Job
    status: str
    version: ModelVersion | None
    metrics: dict[str, Any] | None
    quality: str | None


def state(platform: Platform, model: LookoutModel) -> ModelState:
    job = platform.store.get_job(model.tenant, model.job_id)
    status = STATUS.get(job.status, "FAILED")
    version = metrics = quality = None
    if status == "SUCCESS" and job.result:
        try:
            version = platform.store.get_version(model.tenant, model.name, int(job.result["version"]))
        except NotFound:
            status = "FAILED"  # the Shopfloor model was deleted under it
        else:
            metrics = dict(version.report.get("lookout") or {})
            quality = metrics.get("quality")
    return ModelState(model, job, status, version, metrics, quality)


def describe(platform: Platform, tenant: str, name: str) -> ModelState:
    return state(platform, platform.store.get_lookout_model(tenant, name))


def list_states(platform: Platform, tenant: str) -> list[ModelState]:
    return [state(platform, m) for m in platform.store.list_lookout_models(tenant)]


def delete_model(platform: Platform, principal: Principal, name: str, schedulers: Sequence[str]) -> None:
    """Delete the model and its Shopfloor model (every version); Conflict while it trains or while
    inference schedulers (``schedulers``: their names) use it."""
    tenant = principal.tenant
    found = describe(platform, tenant, name)
    if found.status == "IN_PROGRESS":
        raise Conflict(f"model {name!r} is still training; delete it once its training ends")
    if schedulers:
        raise Conflict(
            f"model {name!r} is used by inference scheduler(s) {', '.join(schedulers)}; delete them first"
        )
    platform.store.delete_lookout_model(tenant, name)
    try:
        gone = models.delete_model(platform, tenant, name)
    except NotFound:
        gone = []
    audit.record(
        platform, principal, "model.delete", name, model=name, versions=len(gone), protocol="lookout"
    )

"""Lookout for Equipment's model operations: CreateModel, DescribeModel, ListModels, DeleteModel.

The request shapes follow botocore's ``lookoutequipment`` model (2020-12-15); the work is
:mod:`shopfloor.services.lookout_training`. ``ModelMetrics`` is a JSON string, as Lookout sends it
(:func:`~shopfloor.evaluation.event_ranges.model_metrics`), and ``ModelQuality`` follows the rule
documented in :mod:`shopfloor.evaluation.event_ranges`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.context import Platform
from shopfloor.data.lookout import SAMPLING_RATES
from shopfloor.data.lookout_ingest import parse_schema
from shopfloor.errors import InvalidInput, NotFound
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import lookout_training as training
from shopfloor.services.lookout.ingested import ingested_table
from shopfloor.services.lookout.labels import anomaly_ranges
from shopfloor.services.lookout.operations import Operation, arn, epoch, page, parse, table
from shopfloor.services.lookout_training import ModelSpec, ModelState, SensorTable

NAME = r"^[0-9a-zA-Z_-]{1,200}$"
BUCKET = r"^[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9]$"


class Shape(BaseModel):
    """A request member's shape: members Lookout defines that the facade does not read are ignored."""

    model_config = ConfigDict(extra="ignore")


class S3Location(Shape):
    Bucket: str = Field(pattern=BUCKET)
    Prefix: str = Field("", max_length=1024)


class LabelsInput(Shape):
    S3InputConfiguration: S3Location | None = None
    LabelGroupName: str | None = Field(None, pattern=NAME)


class Schema(Shape):
    InlineDataSchema: str = Field(min_length=1, max_length=1_000_000)


class PreProcessing(Shape):
    TargetSamplingRate: Literal[tuple(SAMPLING_RATES)] | None = None  # type: ignore[valid-type]


class CreateModel(Shape):
    ModelName: str = Field(pattern=NAME)
    DatasetName: str = Field(pattern=NAME)
    ClientToken: str = Field(min_length=1, max_length=256)
    DatasetSchema: Schema | None = None
    LabelsInputConfiguration: LabelsInput | None = None
    TrainingDataStartTime: datetime | None = None
    TrainingDataEndTime: datetime | None = None
    EvaluationDataStartTime: datetime | None = None
    EvaluationDataEndTime: datetime | None = None
    RoleArn: str | None = Field(None, max_length=2048)
    DataPreProcessingConfiguration: PreProcessing | None = None
    OffCondition: str | None = Field(None, min_length=1, max_length=2048)


class ModelNamed(Shape):
    ModelName: str = Field(pattern=NAME)


class ListModels(Shape):
    NextToken: str | None = None
    MaxResults: int | None = None
    Status: Literal["IN_PROGRESS", "SUCCESS", "FAILED", "IMPORT_IN_PROGRESS"] | None = None
    ModelNameBeginsWith: str | None = None
    DatasetNameBeginsWith: str | None = None


def find_table(platform: Platform, tenant: str, name: str) -> SensorTable:
    """The table the Lookout dataset's latest successful ingestion stored (NotFound for an unknown
    dataset, or one not ingested yet)."""
    dataset_id, time_column, sensors = ingested_table(platform, tenant, name)
    schema = platform.store.get_lookout_dataset(tenant, name).schema
    components = [
        {"name": c.name, "time_column": c.time_column, "sensors": list(c.sensors)}
        for c in parse_schema(json.dumps(schema), "dataset schema")
    ]
    return SensorTable(dataset_id, time_column, sensors, components)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


def _spec(req: CreateModel) -> ModelSpec:
    sensors = None
    if req.DatasetSchema is not None:
        parts = parse_schema(req.DatasetSchema.InlineDataSchema)
        sensors = [f"{c.name}\\{s}" for c in parts for s in c.sensors]
    labels = req.LabelsInputConfiguration
    s3 = labels.S3InputConfiguration if labels else None
    evaluation = None
    if req.EvaluationDataStartTime is not None or req.EvaluationDataEndTime is not None:
        if req.EvaluationDataStartTime is None or req.EvaluationDataEndTime is None:
            raise InvalidInput(
                "give both EvaluationDataStartTime and EvaluationDataEndTime, or neither",
                errors=[{"loc": ["body", "EvaluationDataStartTime"], "msg": "both or neither"}],
            )
        evaluation = (_utc(req.EvaluationDataStartTime), _utc(req.EvaluationDataEndTime))
    echo = req.model_dump(
        include={"DatasetSchema", "LabelsInputConfiguration", "RoleArn", "DataPreProcessingConfiguration"},
        exclude_none=True,
    )
    rate = req.DataPreProcessingConfiguration
    return ModelSpec(
        name=req.ModelName,
        dataset_name=req.DatasetName,
        client_token=req.ClientToken,
        sensors=sensors,
        label_group=labels.LabelGroupName if labels else None,
        labels_s3=(s3.Bucket, s3.Prefix) if s3 else None,
        training=(_utc(req.TrainingDataStartTime), _utc(req.TrainingDataEndTime)),
        evaluation=evaluation,  # type: ignore[arg-type]
        sampling=rate.TargetSamplingRate if rate else None,
        off=req.OffCondition,
        echo=echo,
    )


def create_model(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(CreateModel, request)
    made = training.create_model(platform, principal, _spec(req), find_table, anomaly_ranges)
    status = training.state(platform, made).status
    return {"ModelArn": arn(principal, "model", f"{made.name}/{made.uid}"), "Status": status}


def _summary(principal: Principal, s: ModelState) -> dict[str, Any]:
    m = s.model
    return {
        "ModelName": m.name,
        "ModelArn": arn(principal, "model", f"{m.name}/{m.uid}"),
        "DatasetName": m.dataset_name,
        "DatasetArn": arn(principal, "dataset", m.dataset_name),
        "Status": s.status,
        "CreatedAt": epoch(m.created_at),
        "ActiveModelVersion": s.version.version if s.version else None,
        "ModelQuality": s.quality,
    }


def describe_model(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    s = training.describe(platform, principal.tenant, parse(ModelNamed, request).ModelName)
    p, echo = s.job.params, s.model.config
    schema = echo.get("DatasetSchema", {}).get("InlineDataSchema") or _dataset_schema(
        platform, principal.tenant, s.model.dataset_name
    )
    trained, evaluation = p.get("training") or [None, None], p.get("evaluation") or [None, None]
    off = p.get("off")
    return {
        **_summary(principal, s),
        "Schema": schema,
        "LabelsInputConfiguration": echo.get("LabelsInputConfiguration"),
        "TrainingDataStartTime": _epoch_text(trained[0]),
        "TrainingDataEndTime": _epoch_text(trained[1]),
        "EvaluationDataStartTime": _epoch_text(evaluation[0]),
        "EvaluationDataEndTime": _epoch_text(evaluation[1]),
        "RoleArn": echo.get("RoleArn"),
        "DataPreProcessingConfiguration": echo.get("DataPreProcessingConfiguration"),
        "TrainingExecutionStartTime": epoch(s.job.started_at),
        "TrainingExecutionEndTime": epoch(s.job.finished_at),
        "FailedReason": s.job.error if s.status == "FAILED" else None,
        "ModelMetrics": json.dumps(s.metrics) if s.metrics is not None else None,
        "LastUpdatedTime": epoch(s.job.finished_at or s.job.started_at or s.job.created_at),
        "OffCondition": f"{off['sensor']} {off['op']} {off['value']:g}" if off else None,
        "ModelVersionActivatedAt": epoch(s.version.created_at) if s.version else None,
    }


def _dataset_schema(platform: Platform, tenant: str, name: str) -> str | None:
    """The schema of the model's dataset, when the request gave none (None once the dataset is gone)."""
    try:
        schema = platform.store.get_lookout_dataset(tenant, name).schema
    except NotFound:
        return None
    return json.dumps(schema) if schema else None


def _epoch_text(value: str | None) -> float | None:
    return epoch(datetime.fromisoformat(value)) if value else None


def list_models(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListModels, request)
    states = [
        s
        for s in training.list_states(platform, principal.tenant)
        if (req.Status is None or s.status == req.Status)
        and s.model.name.startswith(req.ModelNameBeginsWith or "")
        and s.model.dataset_name.startswith(req.DatasetNameBeginsWith or "")
    ]
    chunk, following = page(states, req.NextToken, req.MaxResults)
    return {"ModelSummaries": [_summary(principal, s) for s in chunk], "NextToken": following}


def delete_model(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    name = parse(ModelNamed, request).ModelName
    users = [s.name for s in platform.store.list_lookout_schedulers(principal.tenant, model=name)]
    training.delete_model(platform, principal, name, users)
    return {}


OPERATIONS = table(
    Operation("CreateModel", Permission.JOBS_WRITE, create_model),
    Operation("DescribeModel", Permission.MODELS_READ, describe_model),
    Operation("ListModels", Permission.MODELS_READ, list_models),
    Operation("DeleteModel", Permission.MODELS_WRITE, delete_model),
)

"""Lookout for Equipment's inference scheduler operations: Create/Start/Stop/Describe/List/Delete
InferenceScheduler, ListInferenceExecutions and ListInferenceEvents.

Request shapes follow botocore's ``lookoutequipment`` model (2020-12-15); the work is
:mod:`shopfloor.services.lookout_schedule` (and the windows themselves
:mod:`shopfloor.services.lookout_inference`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from shopfloor.context import Platform
from shopfloor.registry.lookout_entities import LookoutScheduler
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import lookout_schedule as schedule
from shopfloor.services import lookout_training as training
from shopfloor.services.lookout.models import NAME, S3Location, Shape
from shopfloor.services.lookout.operations import Operation, arn, epoch, page, parse, table
from shopfloor.services.lookout_schedule import FREQUENCIES, SchedulerSpec

Frequency = Literal[tuple(FREQUENCIES)]  # type: ignore[valid-type]


class Naming(Shape):
    TimestampFormat: Literal["EPOCH", "yyyy-MM-dd-HH-mm-ss", "yyyyMMddHHmmss"] = "yyyyMMddHHmmss"
    ComponentTimestampDelimiter: Literal["", "-", "_", " "] = "_"


class InputConfig(Shape):
    S3InputConfiguration: S3Location
    InputTimeZoneOffset: str | None = Field(None, pattern=r"^(\+|\-)[0-9]{2}\:[0-9]{2}$")
    InferenceInputNameConfiguration: Naming = Naming()


class OutputConfig(Shape):
    S3OutputConfiguration: S3Location
    KmsKeyId: str | None = None


class CreateScheduler(Shape):
    ModelName: str = Field(pattern=NAME)
    InferenceSchedulerName: str = Field(pattern=NAME)
    DataDelayOffsetInMinutes: int = Field(0, ge=0, le=60)
    DataUploadFrequency: Frequency  # type: ignore[valid-type]
    DataInputConfiguration: InputConfig
    DataOutputConfiguration: OutputConfig
    RoleArn: str = Field(min_length=20, max_length=2048)
    ClientToken: str = Field(min_length=1, max_length=256)


class SchedulerNamed(Shape):
    InferenceSchedulerName: str = Field(pattern=NAME)


class ListSchedulers(Shape):
    NextToken: str | None = None
    MaxResults: int | None = None
    InferenceSchedulerNameBeginsWith: str | None = None
    ModelName: str | None = None
    Status: Literal["PENDING", "RUNNING", "STOPPING", "STOPPED"] | None = None


class ListExecutions(SchedulerNamed):
    NextToken: str | None = None
    MaxResults: int | None = None
    DataStartTimeAfter: datetime | None = None
    DataEndTimeBefore: datetime | None = None
    Status: Literal["IN_PROGRESS", "SUCCESS", "FAILED"] | None = None


class ListEvents(SchedulerNamed):
    NextToken: str | None = None
    MaxResults: int | None = None
    IntervalStartTime: datetime
    IntervalEndTime: datetime


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _model_arn(platform: Platform, principal: Principal, name: str) -> str | None:
    try:
        found = platform.store.get_lookout_model(principal.tenant, name)
    except Exception:  # noqa: BLE001 - a scheduler outliving its model shows no model ARN
        return None
    return arn(principal, "model", f"{found.name}/{found.uid}")


def _names(platform: Platform, principal: Principal, s: LookoutScheduler) -> dict[str, Any]:
    return {
        "ModelName": s.model,
        "ModelArn": _model_arn(platform, principal, s.model),
        "InferenceSchedulerName": s.name,
        "InferenceSchedulerArn": arn(principal, "inference-scheduler", f"{s.name}/{s.id}"),
        "Status": s.status,
    }


def _configs(s: LookoutScheduler) -> dict[str, Any]:
    cfg = s.config
    naming = cfg["naming"]
    return {
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": cfg["input"]["bucket"], "Prefix": cfg["input"]["prefix"]},
            "InputTimeZoneOffset": naming.get("utc_offset"),
            "InferenceInputNameConfiguration": {
                "TimestampFormat": naming["format"],
                "ComponentTimestampDelimiter": naming["delimiter"],
            },
        },
        "DataOutputConfiguration": {
            "S3OutputConfiguration": {"Bucket": cfg["output"]["bucket"], "Prefix": cfg["output"]["prefix"]}
        },
    }


def _summary(platform: Platform, principal: Principal, s: LookoutScheduler) -> dict[str, Any]:
    return {
        **_names(platform, principal, s),
        "DataDelayOffsetInMinutes": s.delay_s // 60,
        "DataUploadFrequency": s.config["frequency"],
        "LatestInferenceResult": s.latest_result,
    }


def create_scheduler(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(CreateScheduler, request)
    data_in, data_out = req.DataInputConfiguration, req.DataOutputConfiguration.S3OutputConfiguration
    spec = SchedulerSpec(
        name=req.InferenceSchedulerName,
        model=req.ModelName,
        frequency=req.DataUploadFrequency,
        delay_minutes=req.DataDelayOffsetInMinutes,
        input_bucket=data_in.S3InputConfiguration.Bucket,
        input_prefix=data_in.S3InputConfiguration.Prefix,
        output_bucket=data_out.Bucket,
        output_prefix=data_out.Prefix,
        client_token=req.ClientToken,
        timestamp_format=data_in.InferenceInputNameConfiguration.TimestampFormat,
        delimiter=data_in.InferenceInputNameConfiguration.ComponentTimestampDelimiter,
        utc_offset=data_in.InputTimeZoneOffset,
        echo={"RoleArn": req.RoleArn},
    )
    made = schedule.create(platform, principal, spec)
    quality = training.describe(platform, principal.tenant, made.model).quality
    return {
        "InferenceSchedulerArn": arn(principal, "inference-scheduler", f"{made.name}/{made.id}"),
        "InferenceSchedulerName": made.name,
        "Status": "PENDING" if made.revision == 0 else made.status,
        "ModelQuality": quality,
    }


def start_scheduler(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    found = schedule.start(platform, principal, parse(SchedulerNamed, request).InferenceSchedulerName)
    return _names(platform, principal, found)


def stop_scheduler(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    found = schedule.stop(platform, principal, parse(SchedulerNamed, request).InferenceSchedulerName)
    return _names(platform, principal, found)


def describe_scheduler(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    name = parse(SchedulerNamed, request).InferenceSchedulerName
    s = platform.store.get_lookout_scheduler(principal.tenant, name)
    return {
        **_summary(platform, principal, s),
        **_configs(s),
        "CreatedAt": epoch(s.created_at),
        "UpdatedAt": epoch(s.updated_at),
        "RoleArn": s.config.get("echo", {}).get("RoleArn"),
    }


def list_schedulers(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListSchedulers, request)
    found = [
        s
        for s in platform.store.list_lookout_schedulers(principal.tenant, model=req.ModelName)
        if s.name.startswith(req.InferenceSchedulerNameBeginsWith or "")
        and (req.Status is None or s.status == req.Status)
    ]
    chunk, following = page(found, req.NextToken, req.MaxResults)
    return {
        "InferenceSchedulerSummaries": [_summary(platform, principal, s) for s in chunk],
        "NextToken": following,
    }


def delete_scheduler(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    schedule.delete(platform, principal, parse(SchedulerNamed, request).InferenceSchedulerName)
    return {}


def list_executions(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListExecutions, request)
    found, runs = schedule.executions(
        platform,
        principal.tenant,
        req.InferenceSchedulerName,
        start_after=_utc(req.DataStartTimeAfter) if req.DataStartTimeAfter else None,
        end_before=_utc(req.DataEndTimeBefore) if req.DataEndTimeBefore else None,
        status=req.Status,
    )
    chunk, following = page(runs, req.NextToken, req.MaxResults)
    names = _names(platform, principal, found)
    names.pop("Status")
    model_arn = names["ModelArn"]
    return {
        "InferenceExecutionSummaries": [
            {
                **names,
                **_configs(found),
                "ScheduledStartTime": epoch(r.scheduled_start),
                "DataStartTime": epoch(r.data_start),
                "DataEndTime": epoch(r.data_end),
                "CustomerResultObject": {"Bucket": r.result_bucket, "Key": r.result_key}
                if r.result_key
                else None,
                "Status": r.status,
                "FailedReason": r.failed_reason,
                "ModelVersion": r.model_version,
                "ModelVersionArn": f"{model_arn}/model-version/{r.model_version}"
                if model_arn and r.model_version
                else None,
            }
            for r in chunk
        ],
        "NextToken": following,
    }


def list_events(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListEvents, request)
    start, end = _utc(req.IntervalStartTime), _utc(req.IntervalEndTime)
    found, events = schedule.events(platform, principal.tenant, req.InferenceSchedulerName, start, end)
    chunk, following = page(events, req.NextToken, req.MaxResults)
    scheduler_arn = arn(principal, "inference-scheduler", f"{found.name}/{found.id}")
    return {
        "InferenceEventSummaries": [
            {
                "InferenceSchedulerArn": scheduler_arn,
                "InferenceSchedulerName": found.name,
                "EventStartTime": epoch(e.start),
                "EventEndTime": epoch(e.end),
                "Diagnostics": json.dumps(e.diagnostics),
                "EventDurationInSeconds": int((e.end - e.start).total_seconds()),
            }
            for e in chunk
        ],
        "NextToken": following,
    }


OPERATIONS = table(
    Operation("CreateInferenceScheduler", Permission.MODELS_WRITE, create_scheduler),
    Operation("StartInferenceScheduler", Permission.MODELS_WRITE, start_scheduler),
    Operation("StopInferenceScheduler", Permission.MODELS_WRITE, stop_scheduler),
    Operation("DescribeInferenceScheduler", Permission.MODELS_READ, describe_scheduler),
    Operation("ListInferenceSchedulers", Permission.MODELS_READ, list_schedulers),
    Operation("DeleteInferenceScheduler", Permission.MODELS_WRITE, delete_scheduler),
    Operation("ListInferenceExecutions", Permission.MODELS_READ, list_executions),
    Operation("ListInferenceEvents", Permission.MODELS_READ, list_events),
)

"""Data ingestion: StartDataIngestionJob, DescribeDataIngestionJob, ListDataIngestionJobs and
ListSensorStatistics.

Starting an ingestion checks everything it can first: the dataset, the bucket (one of the tenant's
sources must serve it: :mod:`shopfloor.services.sources`; ``RoleArn`` is recorded, the source's own
credentials are what read the bucket), that files match the schema's components under the prefix
and key pattern, and that they fit the upload size limit. It then copies the matching files, sealed,
beside a ``lookout_ingest`` job (:mod:`shopfloor.jobs.lookout_ingest`) that reads them with
progress and stores the Shopfloor dataset; the job's id is the ingestion's ``JobId``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.context import Platform
from shopfloor.data.lookout_ingest import component_of, key_matcher, parse_schema
from shopfloor.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from shopfloor.registry.clock import now
from shopfloor.registry.ids import new_id
from shopfloor.registry.lookout_data_entities import LookoutIngestion
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import sources
from shopfloor.services.lookout.datasets import NAME, input_configuration
from shopfloor.services.lookout.ingested import Ingested, history, ingested, latest_success
from shopfloor.services.lookout.operations import Operation, arn, epoch, page, parse, table
from shopfloor.services.queueing import check_room, queue

#: The most files one ingestion reads.
MOST_FILES = 1000


class S3Input(BaseModel):
    Bucket: str = Field(pattern=r"^[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9]$")
    Prefix: str = Field("", max_length=1024)
    KeyPattern: str | None = Field(None, max_length=2048)


class InputConfiguration(BaseModel):
    S3InputConfiguration: S3Input


class StartIngestion(BaseModel):
    model_config = ConfigDict(extra="ignore")
    DatasetName: str = Field(pattern=NAME)
    IngestionInputConfiguration: InputConfiguration
    RoleArn: str = Field(min_length=20, max_length=2048)
    ClientToken: str = Field(min_length=1, max_length=256)


class JobId(BaseModel):
    JobId: str = Field(min_length=1, max_length=40)


class ListIngestions(BaseModel):
    DatasetName: str | None = Field(None, pattern=NAME)
    NextToken: str | None = None
    MaxResults: int | None = None
    Status: Literal["IN_PROGRESS", "SUCCESS", "FAILED", "IMPORT_IN_PROGRESS"] | None = None


class ListStatistics(BaseModel):
    DatasetName: str = Field(pattern=NAME)
    IngestionJobId: str | None = Field(None, max_length=40)
    MaxResults: int | None = None
    NextToken: str | None = None


def _field(loc: list[str], detail: str) -> InvalidInput:
    return InvalidInput(detail, errors=[{"loc": ["body", *loc], "msg": detail}])


def start_ingestion(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(StartIngestion, request)
    tenant, s3 = principal.tenant, req.IngestionInputConfiguration.S3InputConfiguration
    dataset = platform.store.get_lookout_dataset(tenant, req.DatasetName)
    runs = history(platform, tenant, dataset.name)
    again = next((r for r in runs if r.ingestion.client_token == req.ClientToken), None)
    if again is not None:  # the SDK's retry of a call that did reach us
        return {"JobId": again.ingestion.id, "Status": again.status}
    if runs and runs[0].status == "IN_PROGRESS":
        raise Conflict(
            f"dataset {dataset.name!r} already has an ingestion in progress ({runs[0].ingestion.id})"
        )
    check_room(platform, tenant)
    components = parse_schema(json.dumps(dataset.schema), "dataset schema")
    matchers = {c.name: key_matcher(s3.Prefix, s3.KeyPattern, c.name) for c in components}
    listed = sources.list_objects(platform, tenant, s3.Bucket, s3.Prefix)
    listed = [o for o in listed if not o.key.endswith("/")]
    matched = [(o, component_of(o.key, matchers)) for o in listed]
    files = [(o, c) for o, c in matched if c is not None]
    where = f"s3://{s3.Bucket}/{s3.Prefix}"
    if not files:
        pattern = s3.KeyPattern or "{prefix}/{component}/*"
        raise _field(
            ["IngestionInputConfiguration", "S3InputConfiguration"],
            f"no object under {where} matches key pattern {pattern!r} for the components "
            f"{', '.join(matchers)} ({len(listed)} object(s) listed)",
        )
    if len(files) > MOST_FILES:
        raise _field(
            ["IngestionInputConfiguration"], f"{len(files)} files match under {where}; at most {MOST_FILES}"
        )
    limit = platform.settings.max_upload_bytes
    total = sum(o.size for o, _ in files)
    if total > limit:
        raise PayloadTooLarge(
            f"the {len(files)} files under {where} hold {total} bytes; at most {limit} per ingestion"
        )
    job_id = new_id("job")
    prefix = f"{tenant}/jobs/{job_id}"
    copied: list[dict[str, Any]] = []
    try:
        for at, (obj, component) in enumerate(files):
            data = sources.read_object(platform, tenant, s3.Bucket, obj.key, max_bytes=limit)
            place = f"{prefix}/lookout/{at}.csv"
            digest = platform.sealed.put(tenant, place, data)
            copied.append(
                {"key": obj.key, "component": component, "input": place, "sha256": digest, "size": len(data)}
            )
        params = {
            "dataset": dataset.name,
            "bucket": s3.Bucket,
            "components": [
                {"name": c.name, "time_column": c.time_column, "sensors": list(c.sensors)} for c in components
            ],
            "files": copied,
            "discarded": [o.key for o, c in matched if c is None],
            "total_files": len(listed),
        }
        size = sum(int(f["size"]) for f in copied)
        job = queue(
            platform, principal, "lookout_ingest", params, job_id=job_id, incoming_bytes=size,
            dataset=dataset.name,
        )
    except BaseException as exc:
        platform.sealed.undo(prefix, exc)
        raise
    platform.store.add_lookout_ingestion(
        LookoutIngestion(
            id=job.id,
            tenant=tenant,
            dataset=dataset.name,
            bucket=s3.Bucket,
            prefix=s3.Prefix,
            key_pattern=s3.KeyPattern,
            role_arn=req.RoleArn,
            client_token=req.ClientToken,
            created_at=now(),
        )
    )
    return {"JobId": job.id, "Status": "IN_PROGRESS"}


def _view(principal: Principal, run: Ingested) -> dict[str, Any]:
    i = run.ingestion
    return {
        "JobId": i.id,
        "DatasetName": i.dataset,
        "DatasetArn": arn(principal, "dataset", i.dataset),
        "IngestionInputConfiguration": input_configuration(i.bucket, i.prefix, i.key_pattern),
        "Status": run.status,
    }


def describe_ingestion(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    job_id = parse(JobId, request).JobId
    run = ingested(platform, platform.store.get_lookout_ingestion(principal.tenant, job_id))
    answer = _view(principal, run)
    del answer["DatasetName"]
    answer.update(RoleArn=run.ingestion.role_arn, CreatedAt=epoch(run.ingestion.created_at))
    if run.status == "IN_PROGRESS":
        answer["StatusDetail"] = run.job.message or run.job.stage or "queued"
    elif run.status == "FAILED":
        answer["FailedReason"] = run.job.error or run.job.status
    result = run.result
    if result:
        answer.update(
            DataQualitySummary=result["quality"],
            IngestedFilesSummary=result["files"],
            IngestedDataSize=result["size_bytes"],
            DataStartTime=result["start"],
            DataEndTime=result["end"],
            StatusDetail="; ".join(result["discarded_reasons"]) or None,
        )
    return answer


def list_ingestions(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListIngestions, request)
    found = platform.store.list_lookout_ingestions(principal.tenant, req.DatasetName)
    runs = [ingested(platform, i) for i in found]
    if req.Status is not None:
        runs = [r for r in runs if r.status == req.Status]
    chunk, token = page(runs, req.NextToken, req.MaxResults)
    return {"DataIngestionJobSummaries": [_view(principal, r) for r in chunk], "NextToken": token}


def list_statistics(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListStatistics, request)
    platform.store.get_lookout_dataset(principal.tenant, req.DatasetName)
    if req.IngestionJobId is not None:
        run = ingested(platform, platform.store.get_lookout_ingestion(principal.tenant, req.IngestionJobId))
        if run.ingestion.dataset != req.DatasetName:
            raise NotFound(f"data ingestion job {req.IngestionJobId!r} is not of dataset {req.DatasetName!r}")
        if run.status != "SUCCESS":
            why = f"data ingestion job {req.IngestionJobId!r} is {run.status}, not SUCCESS"
            raise _field(["IngestionJobId"], why)
        done: Ingested | None = run
    else:
        done = latest_success(platform, principal.tenant, req.DatasetName)
    if done is None:
        raise NotFound(f"dataset {req.DatasetName!r} has no successful data ingestion yet")
    chunk, token = page(done.result["statistics"], req.NextToken, req.MaxResults)
    return {"SensorStatisticsSummaries": chunk, "NextToken": token}


OPERATIONS = table(
    Operation("StartDataIngestionJob", Permission.DATASETS_WRITE, start_ingestion),
    Operation("DescribeDataIngestionJob", Permission.DATASETS_READ, describe_ingestion),
    Operation("ListDataIngestionJobs", Permission.DATASETS_READ, list_ingestions),
    Operation("ListSensorStatistics", Permission.DATASETS_READ, list_statistics),
)

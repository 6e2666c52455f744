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
from shopfloor.data.lookout_ingest import (
    Component,
    component_of,
    csv_header,
    infer_schema,
    key_matcher,
    parse_schema,
)
from shopfloor.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from shopfloor.registry.clock import now
from shopfloor.registry.ids import new_id
from shopfloor.registry.lookout_data_entities import LookoutIngestion
from shopfloor.registry.source_entities import SourceObject
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import sources
from shopfloor.services.lookout.datasets import NAME, input_configuration, schema_of
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
    listed = sources.list_objects(platform, tenant, s3.Bucket, s3.Prefix)
    listed = [o for o in listed if not o.key.endswith("/")]
    components = parse_schema(json.dumps(dataset.schema), "dataset schema") if dataset.schema else None
    matched = _components_of(listed, s3, components)
    limit = platform.settings.max_upload_bytes
    files = _checked(matched, s3, components, limit)
    job_id = new_id("job")
    prefix = f"{tenant}/jobs/{job_id}"
    copied: list[dict[str, Any]] = []
    headers: dict[str, list[tuple[str, list[str]]]] = {}
    try:
        for at, (obj, component) in enumerate(files):
            # the whole ingestion within the limit, even if a file grew since it was listed
            room = limit - sum(int(f["size"]) for f in copied)
            data = sources.read_object(platform, tenant, s3.Bucket, obj.key, max_bytes=max(room, 0))
            headers.setdefault(component, []).append((f"s3://{s3.Bucket}/{obj.key}", csv_header(data)))
            place = f"{prefix}/lookout/{at}.csv"
            digest = platform.sealed.put(tenant, place, data)
            copied.append(
                {"key": obj.key, "component": component, "input": place, "sha256": digest, "size": len(data)}
            )
        if components is None:  # the dataset has no schema yet: the files give it
            components = parse_schema(infer_schema(headers), "the schema the files give")
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
    if not dataset.schema:
        platform.store.set_lookout_dataset_schema(tenant, dataset.name, schema_of(components))
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


def _checked(
    matched: list[tuple[SourceObject, str | None]],
    s3: S3Input,
    components: list[Component] | None,
    limit: int,
) -> list[tuple[SourceObject, str]]:
    """The objects of a component, if there are some, at most :data:`MOST_FILES` and ``limit`` bytes
    in all; InvalidInput or PayloadTooLarge saying which bound is passed."""
    files = [(o, c) for o, c in matched if c is not None]
    where = f"s3://{s3.Bucket}/{s3.Prefix}"
    if not files:
        pattern = s3.KeyPattern or "{prefix}/{component}/*"
        named = f"the components {', '.join(c.name for c in components)}" if components else "a component"
        raise _field(
            ["IngestionInputConfiguration", "S3InputConfiguration"],
            f"no object under {where} matches key pattern {pattern!r} for {named} "
            f"({len(matched)} object(s) listed)",
        )
    if len(files) > MOST_FILES:
        raise _field(
            ["IngestionInputConfiguration"], f"{len(files)} files match under {where}; at most {MOST_FILES}"
        )
    total = sum(o.size for o, _ in files)
    if total > limit:
        raise PayloadTooLarge(
            f"the {len(files)} files under {where} hold {total} bytes; at most {limit} per ingestion"
        )
    return files


def _components_of(
    listed: list[SourceObject], s3: S3Input, components: list[Component] | None
) -> list[tuple[SourceObject, str | None]]:
    """Each listed object with the component its key names under the key pattern (None: none of
    the schema's; without a schema, any name in the component's place)."""
    if components is None:
        anyone = key_matcher(s3.Prefix, s3.KeyPattern, None)
        return [(o, m.group("component") if (m := anyone.fullmatch(o.key)) else None) for o in listed]
    matchers = {c.name: key_matcher(s3.Prefix, s3.KeyPattern, c.name) for c in components}
    return [(o, component_of(o.key, matchers)) for o in listed]


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

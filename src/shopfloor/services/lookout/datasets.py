"""Lookout datasets: CreateDataset, DescribeDataset, ListDatasets, DeleteDataset.

A Lookout dataset is a name and a schema; its data are the Shopfloor datasets (same name, one
version per ingestion) that its ingestion jobs store. Deleting it forgets the name, the schema and
the ingestion records; the Shopfloor dataset versions stay (Shopfloor deletes no dataset).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.context import Platform
from shopfloor.data.lookout_ingest import Component, parse_schema
from shopfloor.errors import Conflict
from shopfloor.registry.clock import now
from shopfloor.registry.lookout_data_entities import LookoutDataset
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import audit
from shopfloor.services.lookout.ingested import history
from shopfloor.services.lookout.operations import Operation, arn, epoch, page, parse, table

NAME = r"^[0-9a-zA-Z_-]{1,200}$"


class Tag(BaseModel):
    Key: str = Field(min_length=1, max_length=128)
    Value: str = Field(max_length=256)


class SchemaIn(BaseModel):
    InlineDataSchema: str = Field(min_length=1, max_length=1_000_000)


class CreateDataset(BaseModel):
    model_config = ConfigDict(extra="ignore")
    DatasetName: str = Field(pattern=NAME)
    DatasetSchema: SchemaIn | None = None
    ClientToken: str = Field(min_length=1, max_length=256)
    ServerSideKmsKeyId: str | None = None
    Tags: list[Tag] = Field(default_factory=list, max_length=200)


class DatasetName(BaseModel):
    DatasetName: str = Field(pattern=NAME)


class ListDatasets(BaseModel):
    NextToken: str | None = None
    MaxResults: int | None = None
    DatasetNameBeginsWith: str | None = None


def create_dataset(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(CreateDataset, request)
    # Without a schema, the first ingestion finds one in the files (their layout and headers).
    schema = schema_of(parse_schema(req.DatasetSchema.InlineDataSchema)) if req.DatasetSchema else {}
    stored, created = platform.store.add_lookout_dataset(
        LookoutDataset(
            tenant=principal.tenant,
            name=req.DatasetName,
            schema=schema,
            client_token=req.ClientToken,
            created_at=now(),
            updated_at=now(),
            tags=[t.model_dump() for t in req.Tags],
        )
    )
    if created:
        audit.record(platform, principal, "lookout.dataset.create", req.DatasetName)
    return {
        "DatasetName": stored.name,
        "DatasetArn": arn(principal, "dataset", stored.name),
        "Status": _status(platform, stored),
    }


def schema_of(components: list[Component]) -> dict[str, Any]:
    """A schema as it is stored and described: components, each its DATETIME and DOUBLE columns."""
    return {
        "Components": [
            {
                "ComponentName": c.name,
                "Columns": [
                    {"Name": c.time_column, "Type": "DATETIME"},
                    *({"Name": s, "Type": "DOUBLE"} for s in c.sensors),
                ],
            }
            for c in components
        ]
    }


def _status(platform: Platform, dataset: LookoutDataset) -> str:
    runs = history(platform, dataset.tenant, dataset.name)
    if runs and runs[0].status == "IN_PROGRESS":
        return "INGESTION_IN_PROGRESS"
    return "ACTIVE" if any(r.status == "SUCCESS" for r in runs) else "CREATED"


def describe_dataset(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    name = parse(DatasetName, request).DatasetName
    dataset = platform.store.get_lookout_dataset(principal.tenant, name)
    runs = history(platform, principal.tenant, name)
    answer: dict[str, Any] = {
        "DatasetName": name,
        "DatasetArn": arn(principal, "dataset", name),
        "CreatedAt": epoch(dataset.created_at),
        "LastUpdatedAt": epoch(max([dataset.updated_at, *(r.ingestion.created_at for r in runs)])),
        "Status": _status(platform, dataset),
        "Schema": json.dumps(dataset.schema) if dataset.schema else None,
    }
    if runs:
        last = runs[0].ingestion
        where = input_configuration(last.bucket, last.prefix, last.key_pattern)
        answer["IngestionInputConfiguration"] = where
        answer["RoleArn"] = last.role_arn
    done = next((r for r in runs if r.status == "SUCCESS"), None)
    if done is not None:
        answer["DataQualitySummary"] = done.result["quality"]
        answer["IngestedFilesSummary"] = done.result["files"]
        answer["DataStartTime"] = done.result["start"]
        answer["DataEndTime"] = done.result["end"]
    return answer


def input_configuration(bucket: str, prefix: str, key_pattern: str | None) -> dict[str, Any]:
    s3: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if key_pattern:
        s3["KeyPattern"] = key_pattern
    return {"S3InputConfiguration": s3}


def list_datasets(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListDatasets, request)
    found = platform.store.list_lookout_datasets(principal.tenant, req.DatasetNameBeginsWith)
    chunk, token = page(found, req.NextToken, req.MaxResults)
    return {
        "DatasetSummaries": [
            {
                "DatasetName": d.name,
                "DatasetArn": arn(principal, "dataset", d.name),
                "Status": _status(platform, d),
                "CreatedAt": epoch(d.created_at),
            }
            for d in chunk
        ],
        "NextToken": token,
    }


def delete_dataset(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    name = parse(DatasetName, request).DatasetName
    dataset = platform.store.get_lookout_dataset(principal.tenant, name)
    if _status(platform, dataset) == "INGESTION_IN_PROGRESS":
        raise Conflict(f"dataset {name!r} is being ingested; delete it when its ingestion job ends")
    platform.store.delete_lookout_dataset(principal.tenant, name)
    audit.record(platform, principal, "lookout.dataset.delete", name)
    return {}


OPERATIONS = table(
    Operation("CreateDataset", Permission.DATASETS_WRITE, create_dataset),
    Operation("DescribeDataset", Permission.DATASETS_READ, describe_dataset),
    Operation("ListDatasets", Permission.DATASETS_READ, list_datasets),
    Operation("DeleteDataset", Permission.DATASETS_WRITE, delete_dataset),
)

"""boto3's Lookout for Equipment client against a real server: datasets, ingestion from the tenant's
S3 bucket with its data-quality summary, sensor statistics and labels, with SigV4 checked.

The data: three C-MAPSS FD001 engines laid end to end (tests/lookout_data.py), in Lookout's layout
(``train/<component>/<file>.csv``) on the moto S3 server, with a few defects planted so that every
figure of the quality summary has a known answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lookout_data as ld
from e2e.server import Server
from s3server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from shopfloor import bootstrap
from shopfloor.security.keys import Principal
from shopfloor.services import sources
from shopfloor.settings import Settings

UNITS = [1, 2, 3]
SCHEMA = {
    "Components": [
        {
            "ComponentName": component,
            "Columns": [
                {"Name": "Timestamp", "Type": "DATETIME"},
                *({"Name": s, "Type": "DOUBLE"} for s in sensors),
            ],
        }
        for component, sensors in ld.COMPONENTS.items()
    ]
}
ROLE = "arn:aws:iam::123456789012:role/lookout-access"


@dataclass
class Plant:
    server: Server
    bucket: str
    keys: dict[str, dict[str, Any]]

    def client(self, who: str = "builder", secret: str | None = None) -> Any:
        key = self.keys[who]
        return boto3.session.Session().client(
            "lookoutequipment",
            endpoint_url=self.server.url + "/aws/lookoutequipment",
            region_name="us-east-1",
            aws_access_key_id=key["aws_access_key_id"],
            aws_secret_access_key=secret or key["aws_secret_access_key"],
            config=Config(retries={"max_attempts": 1}),
        )


def _defective_operating_csv(table: Any) -> bytes:
    """The operating component's CSV with one missing value, one invalid value, one unreadable
    timestamp and one repeated timestamp."""
    lines = ld.component_csv(table, "operating").decode().splitlines()
    cells = lines[5].split(",")
    cells[1] = ""  # setting1 missing
    lines[5] = ",".join(cells)
    cells = lines[6].split(",")
    cells[2] = "n/a"  # setting2 invalid
    lines[6] = ",".join(cells)
    lines.append("not-a-time,0.1,0.2,100")
    lines.append(lines[10])  # a reading repeated
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory, s3_server: MotoServer, data_dir: Path) -> Iterator[Plant]:
    home = tmp_path_factory.mktemp("lookout") / "home"
    bucket = f"plant-{int(time.time() * 1000) % 10**9}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    table = ld.timeline(ld.fd001(data_dir, UNITS))
    s3.put_object(Bucket=bucket, Key="train/operating/operating.csv", Body=_defective_operating_csv(table))
    s3.put_object(Bucket=bucket, Key="train/engine/engine.csv", Body=ld.component_csv(table, "engine"))
    s3.put_object(Bucket=bucket, Key="train/README.txt", Body=b"not a component's file")
    s3.put_object(Bucket=bucket, Key="broken/operating/a.csv", Body=b"when,what\n1,2\n")
    s3.put_object(Bucket=bucket, Key="broken/engine/b.csv", Body=b"\xff\xfe")
    settings = Settings(home=home, source_allowed_networks=["127.0.0.1/32"])
    keys = {
        who: bootstrap.create_key(settings, role=role, aws=True)
        for who, role in [("builder", "builder"), ("consumer", "consumer")]
    }
    keys["other"] = bootstrap.create_key(settings, role="builder", tenant="other", aws=True)
    platform = bootstrap.prepare(settings)
    try:
        sources.add_source(
            platform,
            Principal(key_id=keys["builder"]["id"], tenant="default", role="builder"),
            name="plant-s3",
            endpoint_url=s3_server.url,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret=SECRET_KEY,
            buckets=[bucket],
        )
    finally:
        platform.close()
    server = Server(home, SHOPFLOOR_SOURCE_ALLOWED_NETWORKS='["127.0.0.1/32"]').start()
    try:
        yield Plant(server, bucket, keys)
    finally:
        server.stop()


def _ingested(client: Any, job_id: str, within_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        job = client.describe_data_ingestion_job(JobId=job_id)
        if job["Status"] != "IN_PROGRESS":
            return dict(job)
        time.sleep(0.5)
    raise AssertionError(f"ingestion {job_id} still in progress after {within_s}s")


def test_dataset_ingestion_statistics(plant: Plant) -> None:
    lookout = plant.client()
    schema = {"InlineDataSchema": json.dumps(SCHEMA)}
    created = lookout.create_dataset(DatasetName="pump-1", DatasetSchema=schema)
    assert created["Status"] == "CREATED" and created["DatasetArn"].endswith("dataset/pump-1")
    started = lookout.start_data_ingestion_job(
        DatasetName="pump-1",
        IngestionInputConfiguration={"S3InputConfiguration": {"Bucket": plant.bucket, "Prefix": "train/"}},
        RoleArn=ROLE,
    )
    job = _ingested(lookout, started["JobId"])
    assert job["Status"] == "SUCCESS", job.get("FailedReason")
    quality = job["DataQualitySummary"]
    assert quality["MissingSensorData"] == {"AffectedSensorCount": 1, "TotalNumberOfMissingValues": 1}
    assert quality["InvalidSensorData"] == {"AffectedSensorCount": 1, "TotalNumberOfInvalidValues": 1}
    assert quality["UnsupportedTimestamps"]["TotalNumberOfUnsupportedTimestamps"] == 1
    assert quality["DuplicateTimestamps"]["TotalNumberOfDuplicateTimestamps"] == 1
    # three engines at a cycle a minute: every sensor spans hours, not the 14 days Lookout wants
    assert quality["InsufficientSensorData"]["SensorsWithShortDateRange"]["AffectedSensorCount"] == 24
    files = job["IngestedFilesSummary"]
    assert (files["TotalNumberOfFiles"], files["IngestedNumberOfFiles"]) == (3, 2)
    assert files["DiscardedFiles"] == [{"Bucket": plant.bucket, "Key": "train/README.txt"}]
    assert job["DataStartTime"] == ld.START and isinstance(job["DataEndTime"], datetime)

    described = lookout.describe_dataset(DatasetName="pump-1")
    assert described["Status"] == "ACTIVE"
    assert described["IngestionInputConfiguration"]["S3InputConfiguration"]["Bucket"] == plant.bucket
    assert json.loads(described["Schema"]) == SCHEMA
    assert described["DataQualitySummary"] == quality

    stats = lookout.list_sensor_statistics(DatasetName="pump-1", MaxResults=100)["SensorStatisticsSummaries"]
    assert len(stats) == 24
    by_name = {(s["ComponentName"], s["SensorName"]): s for s in stats}
    assert by_name[("operating", "setting1")]["MissingValues"]["Count"] == 1
    assert by_name[("operating", "setting2")]["InvalidValues"]["Count"] == 1
    # s1 of FD001 never moves: flagged as static
    static = {"Status": "POTENTIAL_ISSUE_DETECTED", "Monotonicity": "STATIC"}
    assert by_name[("engine", "s1")]["MonotonicValues"] == static
    assert by_name[("engine", "s2")]["MonotonicValues"]["Status"] == "NO_ISSUE_DETECTED"
    # the pause between two engines is an hour, sixty cycles: a large gap, twice
    assert by_name[("engine", "s2")]["LargeTimestampGaps"]["NumberOfLargeTimestampGaps"] == 2
    page = lookout.list_sensor_statistics(DatasetName="pump-1", MaxResults=10)
    assert len(page["SensorStatisticsSummaries"]) == 10 and page["NextToken"]

    # the ingested data is a Shopfloor dataset like an upload: sealed, listed, readable through the REST API
    bearer = {"Authorization": f"Bearer {plant.keys['builder']['secret']}"}
    listed = httpx.get(plant.server.url + "/v1/datasets", headers=bearer).json()
    assert any(d["name"] == "pump-1" for d in listed["items"])

    runs = lookout.list_data_ingestion_jobs(DatasetName="pump-1")["DataIngestionJobSummaries"]
    assert [r["JobId"] for r in runs] == [started["JobId"]] and runs[0]["Status"] == "SUCCESS"


def test_labels(plant: Plant) -> None:
    lookout = plant.client()
    lookout.create_label_group(LabelGroupName="pump-faults", FaultCodes=["bearing", "seal"])
    first = lookout.create_label(
        LabelGroupName="pump-faults",
        StartTime=datetime(2024, 1, 1, 2, tzinfo=UTC),
        EndTime=datetime(2024, 1, 1, 3, tzinfo=UTC),
        Rating="ANOMALY",
        FaultCode="bearing",
    )
    lookout.create_label(
        LabelGroupName="pump-faults",
        StartTime=datetime(2024, 1, 1, 5, tzinfo=UTC),
        EndTime=datetime(2024, 1, 1, 6, tzinfo=UTC),
        Rating="NO_ANOMALY",
    )
    labels = lookout.list_labels(LabelGroupName="pump-faults")["LabelSummaries"]
    assert [(x["Rating"], x["StartTime"].hour) for x in labels] == [("ANOMALY", 2), ("NO_ANOMALY", 5)]
    assert labels[0]["LabelId"] == first["LabelId"] and labels[0]["FaultCode"] == "bearing"
    inside = lookout.list_labels(
        LabelGroupName="pump-faults",
        IntervalStartTime=datetime(2024, 1, 1, 4, tzinfo=UTC),
        IntervalEndTime=datetime(2024, 1, 1, 7, tzinfo=UTC),
    )["LabelSummaries"]
    assert [x["Rating"] for x in inside] == ["NO_ANOMALY"]
    assert lookout.describe_label_group(LabelGroupName="pump-faults")["FaultCodes"] == ["bearing", "seal"]
    lookout.delete_label(LabelGroupName="pump-faults", LabelId=first["LabelId"])
    assert len(lookout.list_labels(LabelGroupName="pump-faults")["LabelSummaries"]) == 1
    with pytest.raises(ClientError) as caught:
        lookout.create_label(
            LabelGroupName="pump-faults",
            StartTime=datetime(2024, 1, 2, tzinfo=UTC),
            EndTime=datetime(2024, 1, 1, tzinfo=UTC),
            Rating="ANOMALY",
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_refusals_in_aws_shape(plant: Plant) -> None:
    with pytest.raises(ClientError) as caught:
        plant.client(secret="x" * 40).list_datasets()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as caught:
        plant.client("consumer").create_dataset(DatasetName="nope", DatasetSchema={"InlineDataSchema": "{}"})
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as caught:
        plant.client().describe_dataset(DatasetName="no-such-dataset")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "no-such-dataset" in caught.value.response["Error"]["Message"]
    # another tenant sees nothing of this one's
    with pytest.raises(ClientError) as caught:
        plant.client("other").describe_label_group(LabelGroupName="pump-faults")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_ingestion_that_reads_nothing(plant: Plant) -> None:
    lookout = plant.client()
    lookout.create_dataset(DatasetName="pump-2", DatasetSchema={"InlineDataSchema": json.dumps(SCHEMA)})
    where = {"S3InputConfiguration": {"Bucket": plant.bucket, "Prefix": "nothing-here/"}}
    with pytest.raises(ClientError) as caught:
        lookout.start_data_ingestion_job(
            DatasetName="pump-2", IngestionInputConfiguration=where, RoleArn=ROLE
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "nothing-here" in caught.value.response["Error"]["Message"]
    where = {"S3InputConfiguration": {"Bucket": plant.bucket, "Prefix": "broken"}}
    started = lookout.start_data_ingestion_job(
        DatasetName="pump-2", IngestionInputConfiguration=where, RoleArn=ROLE
    )
    job = _ingested(lookout, started["JobId"])
    assert job["Status"] == "FAILED" and "broken/operating/a.csv" in job["FailedReason"]
    assert lookout.describe_dataset(DatasetName="pump-2")["Status"] == "CREATED"


def test_schema_found_in_the_files(plant: Plant) -> None:
    lookout = plant.client()
    lookout.create_dataset(DatasetName="pump-3")
    assert "Schema" not in lookout.describe_dataset(DatasetName="pump-3")
    where = {"S3InputConfiguration": {"Bucket": plant.bucket, "Prefix": "train/"}}
    started = lookout.start_data_ingestion_job(
        DatasetName="pump-3", IngestionInputConfiguration=where, RoleArn=ROLE
    )
    assert _ingested(lookout, started["JobId"])["Status"] == "SUCCESS"
    found = json.loads(lookout.describe_dataset(DatasetName="pump-3")["Schema"])
    assert found == {"Components": sorted(SCHEMA["Components"], key=lambda c: c["ComponentName"])}

"""Lookout for Equipment models and inference schedulers through boto3 against the real server.

A few C-MAPSS FD001 engines as one piece of equipment (tests/lookout_data.py), ingested from the
tenant's bucket with the engines' ends as labels of a label group: the model is created, trained
and described with its metrics and quality; a scheduler scores input files from the bucket on its
schedule and writes results.jsonl beside them, its executions and events are listed; then it is
stopped and deleted.

The first window is run by the server's own scheduler task (polling every half second). The next
windows are due only minutes later: the test runs them at once through the same service the task
calls (``run_due`` with a later clock), on the server's registry and artifact store.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError

import lookout_data as ld
from s3server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from shopfloor import Client
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.services import lookout_inference
from shopfloor.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e

TRAIN_UNITS, EVAL_UNITS, LIVE_UNIT = [1, 2, 3, 4], [50, 51, 52], 60
BUCKET = "plant-lookout"
ROLE = "arn:aws:iam::123456789012:role/lookout"
ENV = {
    "SHOPFLOOR_SOURCE_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
    "SHOPFLOOR_DEFAULT_TIME_BUDGET_S": "20",
    "SHOPFLOOR_LOOKOUT_SCHEDULER_POLL_S": "0.5",
}


class Plant:
    def __init__(self, server: Server, admin: Client, platform: Platform, tenant: str, key: dict[str, Any]):
        self.server, self.admin, self.platform, self.tenant = server, admin, platform, tenant
        self.key = key

    def lookout(self, secret: str | None = None) -> Any:
        return boto3.client(
            "lookoutequipment",
            endpoint_url=f"{self.server.url}/aws/lookoutequipment",
            region_name="eu-west-1",
            aws_access_key_id=self.key["aws_access_key_id"],
            aws_secret_access_key=secret or self.key["aws_secret_access_key"],
        )


@pytest.fixture(scope="module")
def s3(s3_server: MotoServer) -> Any:
    client = s3_server.client()
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def cmapss(data_dir: Path) -> pd.DataFrame:
    if not (data_dir / "cmapss" / "train_FD001.txt").exists():
        pytest.skip("C-MAPSS not found")
    return ld.timeline(ld.fd001(data_dir, TRAIN_UNITS + EVAL_UNITS))


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory, s3_server: MotoServer, s3: Any) -> Iterator[Plant]:
    home = tmp_path_factory.mktemp("lookout-models") / "home"
    server = Server(home, **ENV).start()
    admin_key = server.admin_key()
    assert admin_key
    try:
        with Client(server.url, admin_key) as admin:
            key = admin.create_key("builder", aws=True)
            admin.add_source(
                "plant-s3", s3_server.url, ACCESS_KEY, SECRET_KEY, buckets=[BUCKET], region=REGION
            )
            # the test's own view of the server's registry and store, to run windows before their time
            platform = prepare(Settings(home=home, source_allowed_networks=["127.0.0.1/32"]))
            tenant = key["tenant"]
            yield Plant(server, admin, platform, tenant, key)
            platform.close()
    finally:
        server.stop()


def _until(call: Any, done: Any, seconds: float = 120.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        answer = call()
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def _put(s3: Any, prefix: str, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=body)


def _ingest(lookout: Any, s3: Any, table: pd.DataFrame) -> None:
    """The engines as dataset pump-1: one file per component in the bucket, ingested."""
    for component in ld.COMPONENTS:
        body = ld.component_csv(table, component)
        s3.put_object(Bucket=BUCKET, Key=f"train/{component}/{component}.csv", Body=body)
    lookout.create_dataset(DatasetName="pump-1", DatasetSchema={"InlineDataSchema": json.dumps(ld.schema())})
    started = lookout.start_data_ingestion_job(
        DatasetName="pump-1",
        IngestionInputConfiguration={"S3InputConfiguration": {"Bucket": BUCKET, "Prefix": "train/"}},
        RoleArn=ROLE,
    )
    job = _until(
        lambda: lookout.describe_data_ingestion_job(JobId=started["JobId"]),
        lambda j: j["Status"] != "IN_PROGRESS",
    )
    assert job["Status"] == "SUCCESS", job.get("FailedReason")


def _label(lookout: Any, table: pd.DataFrame) -> None:
    """The end of each engine's life as an ANOMALY label of group pump-1-labels."""
    lookout.create_label_group(LabelGroupName="pump-1-labels")
    for start, end in ld.label_ranges(table):
        lookout.create_label(LabelGroupName="pump-1-labels", StartTime=start, EndTime=end, Rating="ANOMALY")


def test_model_scheduler_executions_and_events(plant: Plant, s3: Any, cmapss: pd.DataFrame) -> None:
    lookout = plant.lookout()
    _ingest(lookout, s3, cmapss)
    _label(lookout, cmapss)
    boundary = cmapss[cmapss["unit"] == EVAL_UNITS[0]][ld.TIME].iloc[0].to_pydatetime()

    made = lookout.create_model(
        ModelName="pump-1-model",
        DatasetName="pump-1",
        LabelsInputConfiguration={"LabelGroupName": "pump-1-labels"},
        TrainingDataStartTime=ld.START,
        TrainingDataEndTime=boundary,
        EvaluationDataStartTime=boundary,
        EvaluationDataEndTime=cmapss[ld.TIME].iloc[-1].to_pydatetime() + timedelta(minutes=1),
        DataPreProcessingConfiguration={"TargetSamplingRate": "PT1M"},
        OffCondition="operating\\setting3 < 50",
        ClientToken="create-1",
    )
    assert made["Status"] == "IN_PROGRESS" and ":model/pump-1-model/" in made["ModelArn"]
    described = _until(
        lambda: lookout.describe_model(ModelName="pump-1-model"), lambda d: d["Status"] != "IN_PROGRESS"
    )
    assert described["Status"] == "SUCCESS", described.get("FailedReason")
    assert described["TrainingExecutionEndTime"] >= described["TrainingExecutionStartTime"]
    assert described["OffCondition"] == "operating\\setting3 < 50"
    assert json.loads(described["Schema"]) == ld.schema()
    metrics = json.loads(described["ModelMetrics"])
    assert metrics["labeled_ranges_count"] == len(EVAL_UNITS)
    assert metrics["detected_labeled_ranges_count"] >= 2
    assert described["ModelQuality"] == metrics["quality"] == "QUALITY_THRESHOLD_MET"
    listed = lookout.list_models(DatasetNameBeginsWith="pump")["ModelSummaries"]
    assert [m["ModelName"] for m in listed] == ["pump-1-model"] and listed[0]["Status"] == "SUCCESS"
    # a wrong secret is refused before anything runs
    with pytest.raises(ClientError) as refused:
        plant.lookout(secret="x" * 40).describe_model(ModelName="pump-1-model")
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"

    # input files for the window the scheduler scores first, whichever side of a boundary it starts
    # not in the last 90 s before a five-minute boundary: the server's own task then runs the first
    # window only, and the test the next ones before their time
    left = 300 - time.time() % 300
    if left < 90:
        time.sleep(left + 1)
    end = datetime.fromtimestamp(int(time.time()) // 300 * 300, UTC)
    healthy = cmapss[cmapss["unit"] == EVAL_UNITS[0]].head(30)
    named_at = end - timedelta(minutes=4)
    _put(s3, "input/", ld.inference_files(ld.shifted(healthy, named_at - timedelta(minutes=30)), named_at))
    scheduler = lookout.create_inference_scheduler(
        ModelName="pump-1-model",
        InferenceSchedulerName="pump-1-live",
        DataUploadFrequency="PT5M",
        DataDelayOffsetInMinutes=0,
        DataInputConfiguration={
            "S3InputConfiguration": {"Bucket": BUCKET, "Prefix": "input/"},
            "InferenceInputNameConfiguration": {
                "TimestampFormat": "yyyyMMddHHmmss",
                "ComponentTimestampDelimiter": "_",
            },
        },
        DataOutputConfiguration={"S3OutputConfiguration": {"Bucket": BUCKET, "Prefix": "output/"}},
        RoleArn=ROLE,
        ClientToken="sched-1",
    )
    assert scheduler["InferenceSchedulerName"] == "pump-1-live"
    assert scheduler["ModelQuality"] == "QUALITY_THRESHOLD_MET"
    def executions(**more: Any) -> list[dict[str, Any]]:
        found = lookout.list_inference_executions(InferenceSchedulerName="pump-1-live", **more)
        return list(found["InferenceExecutionSummaries"])

    first = _until(executions, lambda runs: runs and runs[0]["Status"] != "IN_PROGRESS", seconds=30)
    assert len(first) == 1 and first[0]["Status"] == "SUCCESS", first[0].get("FailedReason")
    window_end = first[0]["DataEndTime"]
    assert window_end == end

    # the next window: the end of a degrading engine's life; run now instead of five minutes later
    failing = cmapss[cmapss["unit"] == EVAL_UNITS[1]].tail(60)
    named_at = window_end + timedelta(minutes=2)
    _put(s3, "input/", ld.inference_files(ld.shifted(failing, named_at - timedelta(minutes=60)), named_at))
    ran = lookout_inference.run_due(plant.platform, now=window_end + timedelta(minutes=5, seconds=1))
    assert len(ran) == 1
    # and one with no file at all
    lookout_inference.run_due(plant.platform, now=window_end + timedelta(minutes=10, seconds=1))

    runs = executions()
    assert [r["Status"] for r in runs] == ["FAILED", "SUCCESS", "SUCCESS"]  # newest first
    assert "no input file" in runs[0]["FailedReason"]
    result = runs[1]["CustomerResultObject"]
    assert result["Bucket"] == BUCKET and result["Key"].startswith("output/")
    assert result["Key"].endswith("/results.jsonl")
    lines = [json.loads(x) for x in s3.get_object(**result)["Body"].read().decode().splitlines()]
    assert len(lines) == 60
    assert {"timestamp", "prediction", "prediction_reason", "anomaly_score"} <= set(lines[0])
    flagged = [x for x in lines if x["prediction"] == 1]
    assert flagged and all(x["prediction_reason"] == "ANOMALY_DETECTED" for x in flagged)
    assert all(0.5 < x["anomaly_score"] <= 1 for x in flagged)
    assert {d["name"] for d in flagged[0]["diagnostics"]} <= {c for c in cmapss.columns if "\\" in c}
    assert len(executions(Status="SUCCESS")) == 2

    events = lookout.list_inference_events(
        InferenceSchedulerName="pump-1-live",
        IntervalStartTime=window_end - timedelta(hours=2),
        IntervalEndTime=window_end + timedelta(hours=1),
    )["InferenceEventSummaries"]
    assert events, "the failing engine's end raises an event"
    event = events[0]
    lasted = event["EventEndTime"] - event["EventStartTime"]
    assert event["EventDurationInSeconds"] == int(lasted.total_seconds())
    shares = json.loads(event["Diagnostics"])
    assert abs(sum(d["value"] for d in shares) - 1) < 1e-3

    described = lookout.describe_inference_scheduler(InferenceSchedulerName="pump-1-live")
    assert described["Status"] == "RUNNING" and described["LatestInferenceResult"] in ("ANOMALOUS", "NORMAL")
    given = described["DataInputConfiguration"]["S3InputConfiguration"]
    assert given == {"Bucket": BUCKET, "Prefix": "input/"}
    with pytest.raises(ClientError) as busy:
        lookout.delete_model(ModelName="pump-1-model")
    assert busy.value.response["Error"]["Code"] == "ConflictException"
    assert lookout.stop_inference_scheduler(InferenceSchedulerName="pump-1-live")["Status"] == "STOPPED"
    stopped = lookout.list_inference_schedulers(Status="STOPPED")["InferenceSchedulerSummaries"]
    assert [s["InferenceSchedulerName"] for s in stopped] == ["pump-1-live"]
    lookout.delete_inference_scheduler(InferenceSchedulerName="pump-1-live")
    lookout.delete_model(ModelName="pump-1-model")
    assert lookout.list_models()["ModelSummaries"] == []

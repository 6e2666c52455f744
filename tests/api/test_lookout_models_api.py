"""The Lookout model and scheduler operations in process: refusals in AWS's shape, nothing stored
by a refused request, tenants apart, permissions."""

from __future__ import annotations

from typing import Any

import pytest

from aws_signing import aws_key, call
from shopfloor.registry.ids import new_id
from shopfloor.registry.lookout_entities import LookoutModel

Api = Any

MODEL = {
    "ModelName": "pump-1-model",
    "DatasetName": "pump-1",
    "ClientToken": "t",
    "DataPreProcessingConfiguration": {"TargetSamplingRate": "PT1M"},
}
SCHEDULER = {
    "ModelName": "pump-1-model",
    "InferenceSchedulerName": "live",
    "DataUploadFrequency": "PT5M",
    "DataInputConfiguration": {"S3InputConfiguration": {"Bucket": "plant-data", "Prefix": "in/"}},
    "DataOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "plant-data", "Prefix": "out/"}},
    "RoleArn": "arn:aws:iam::123456789012:role/lookout",
    "ClientToken": "s",
}


def error(answer: Any) -> tuple[int, str, str]:
    body = answer.json()
    assert body["__type"] == answer.headers["x-amzn-ErrorType"]
    return answer.status_code, body["__type"], body["message"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"ModelName": "no spaces"}, "ModelName"),
        ({"ClientToken": None}, "ClientToken"),
        ({"DataPreProcessingConfiguration": {"TargetSamplingRate": "PT2M"}}, "TargetSamplingRate"),
        ({"TrainingDataStartTime": "yesterday"}, "TrainingDataStartTime"),
        ({"EvaluationDataStartTime": 1704067200}, "both EvaluationDataStartTime and EvaluationDataEndTime"),
        ({"DatasetSchema": {"InlineDataSchema": "{"}}, "not JSON"),
        ({"DatasetSchema": {"InlineDataSchema": '{"Components": []}'}}, "non-empty Components"),
        ({"OffCondition": ""}, "OffCondition"),
    ],
)
def test_create_model_refusals(api: Api, change: dict[str, Any], says: str) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    request = {k: v for k, v in {**MODEL, **change}.items() if v is not None}
    status, kind, message = error(call(api.client, key, "CreateModel", request))
    assert (status, kind) == (400, "ValidationException") and says in message
    assert api.platform.store.list_lookout_models("default") == []
    assert api.platform.store.list_jobs("default") == []


def test_unknown_dataset_model_and_scheduler(api: Api) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    assert error(call(api.client, key, "CreateModel", MODEL))[1] == "ResourceNotFoundException"
    events = {"InferenceSchedulerName": "nope", "IntervalStartTime": 0, "IntervalEndTime": 1}
    for op, request in [
        ("DescribeModel", {"ModelName": "nope"}),
        ("DeleteModel", {"ModelName": "nope"}),
        ("CreateInferenceScheduler", {**SCHEDULER, "ModelName": "nope"}),
        ("DescribeInferenceScheduler", {"InferenceSchedulerName": "nope"}),
        ("StartInferenceScheduler", {"InferenceSchedulerName": "nope"}),
        ("StopInferenceScheduler", {"InferenceSchedulerName": "nope"}),
        ("DeleteInferenceScheduler", {"InferenceSchedulerName": "nope"}),
        ("ListInferenceExecutions", {"InferenceSchedulerName": "nope"}),
        ("ListInferenceEvents", events),
    ]:
        found = error(call(api.client, key, op, request))
        assert found[:2] == (404, "ResourceNotFoundException"), op
    assert call(api.client, key, "ListModels").json() == {"ModelSummaries": []}
    assert call(api.client, key, "ListInferenceSchedulers").json() == {"InferenceSchedulerSummaries": []}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"DataUploadFrequency": "PT2M"}, "DataUploadFrequency"),
        ({"DataDelayOffsetInMinutes": 61}, "DataDelayOffsetInMinutes"),
        ({"DataInputConfiguration": {"S3InputConfiguration": {"Bucket": "A"}}}, "Bucket"),
        ({"RoleArn": None}, "RoleArn"),
    ],
)
def test_create_scheduler_refusals(api: Api, change: dict[str, Any], says: str) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    request = {k: v for k, v in {**SCHEDULER, **change}.items() if v is not None}
    status, kind, message = error(call(api.client, key, "CreateInferenceScheduler", request))
    assert (status, kind) == (400, "ValidationException") and says in message


def _training(api: Api) -> None:
    """A model of tenant default whose training job waits in the queue."""
    store = api.platform.store
    job = store.create_job(
        id=new_id("job"), tenant="default", type="lookout_train", params={}, max_active=10
    )
    store.add_lookout_model(LookoutModel("default", "pump-1-model", "lkm_1", "pump-1", job.id, {}, "t"))


def test_a_model_in_training_tenants_and_roles(api: Api) -> None:
    _training(api)
    key = aws_key(api.client, api.headers(), "builder")
    described = call(api.client, key, "DescribeModel", {"ModelName": "pump-1-model"}).json()
    assert described["Status"] == "IN_PROGRESS" and "ModelMetrics" not in described
    assert described["ModelArn"].endswith(":default:model/pump-1-model/lkm_1")
    # a scheduler needs a trained model; a model in training is not deleted
    assert error(call(api.client, key, "CreateInferenceScheduler", SCHEDULER))[1] == "ConflictException"
    busy = call(api.client, key, "DeleteModel", {"ModelName": "pump-1-model"})
    assert error(busy)[1] == "ConflictException"
    listed = call(api.client, key, "ListModels", {"Status": "IN_PROGRESS"}).json()["ModelSummaries"]
    assert [m["ModelName"] for m in listed] == ["pump-1-model"]
    assert call(api.client, key, "ListModels", {"Status": "SUCCESS"}).json()["ModelSummaries"] == []
    # another tenant sees nothing of it
    other = aws_key(api.client, api.headers("other"), "builder")
    assert error(call(api.client, other, "DescribeModel", {"ModelName": "pump-1-model"}))[0] == 404
    assert call(api.client, other, "ListModels").json()["ModelSummaries"] == []
    # a consumer reads models but trains none
    consumer = aws_key(api.client, api.headers(), "consumer")
    assert call(api.client, consumer, "DescribeModel", {"ModelName": "pump-1-model"}).status_code == 200
    denied = call(api.client, consumer, "CreateModel", {**MODEL, "ModelName": "another"})
    assert error(denied)[:2] == (403, "AccessDeniedException")
    denied = call(api.client, consumer, "DeleteModel", {"ModelName": "pump-1-model"})
    assert error(denied)[1] == "AccessDeniedException"

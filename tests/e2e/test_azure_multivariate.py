"""The real ``azure-ai-anomalydetector`` (3.0.0b6) client against a real server, multivariate: train
from a Shopfloor dataset and from a CSV in an S3-compatible bucket read through a tenant source,
poll the model until READY, list the models page by page, detect a batch and poll its result, and
detect the last point with the interpretation naming the variable that was disturbed."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.anomalydetector import AnomalyDetectorClient
from azure.ai.anomalydetector.models import (
    AlignPolicy,
    ModelInfo,
    MultivariateBatchDetectionOptions,
    MultivariateLastDetectionOptions,
    VariableValues,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

import azure_mv_data as data
from s3server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e


LOOPBACK = '["127.0.0.1/32"]'


class Running:
    def __init__(self, server: Server, key: str, bucket: str) -> None:
        self.server, self.key, self.bucket = server, key, bucket
        self.azure = AnomalyDetectorClient(server.url, AzureKeyCredential(key))
        self.sdk = Client(server.url, key)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, s3_server: MotoServer) -> Iterator[Running]:
    """The server, and a bucket of the plant's S3-compatible store registered as a source of the
    admin key's tenant, holding the training data as OneTable CSV and as a MultiTable zip."""
    bucket = f"plant-{uuid.uuid4().hex[:12]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="press/train.csv", Body=data.one_table(data.series()))
    s3.put_object(Bucket=bucket, Key="press/train.zip", Body=data.multi_table_zip(data.series()))
    home = tmp_path_factory.mktemp("azure-mv") / "home"
    env = {"SHOPFLOOR_JOB_POLL_INTERVAL_S": "0.2", "SHOPFLOOR_SOURCE_ALLOWED_NETWORKS": LOOPBACK}
    server = Server(home, **env).start()
    key = server.admin_key()
    assert key
    try:
        running = Running(server, key, bucket)
        sdk = running.sdk
        sdk.add_source("plant-store", s3_server.url, ACCESS_KEY, SECRET_KEY, buckets=[bucket], region=REGION)
        yield running
    finally:
        server.stop()


def _wait(read: Any, done: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def _ready(azure: AnomalyDetectorClient, model_id: str) -> Any:
    return _wait(
        lambda: azure.get_multivariate_model(model_id), lambda m: m.model_info.status in ("READY", "FAILED")
    )


def _train(azure: AnomalyDetectorClient, source: str, **more: Any) -> str:
    info = ModelInfo(
        data_source=source,
        start_time=data.START,
        end_time=data.START.replace(hour=19, minute=59),
        sliding_window=60,
        align_policy=AlignPolicy(align_mode="Outer", fill_n_a_method="Linear"),
        **more,
    )
    model = azure.train_multivariate_model(info)
    assert model.model_info.status == "CREATED"
    return str(model.model_id)


def test_train_on_a_dataset_detect_batch_and_last(running: Running, tmp_path: Path) -> None:
    azure = running.azure
    train_file = tmp_path / "train.csv"
    train_file.write_bytes(data.one_table(data.series()))
    dataset = running.sdk.upload_dataset(train_file, "press-4")
    model_id = _train(azure, f"shopfloor://datasets/{dataset['id']}", display_name="press 4")
    model = _ready(azure, model_id)
    assert model.model_info.status == "READY", model.model_info.errors
    states = model.model_info.diagnostics_info.variable_states
    assert [s.variable for s in states] == ["a", "b", "c"] and states[0].effective_count == 1200

    # detect-last: normal, then with b broken away from a
    recent = data.series(1260).tail(60)
    options = MultivariateLastDetectionOptions(
        variables=[VariableValues(**v) for v in data.variable_values(recent)], top_contributor_count=3
    )
    calm = azure.detect_multivariate_last_anomaly(model_id, options)
    assert calm.results[0].value.is_anomaly is False
    broken = data.disturbed(recent, "b", last=10, by=3.0)
    options.variables = [VariableValues(**v) for v in data.variable_values(broken)]
    last = azure.detect_multivariate_last_anomaly(model_id, options)
    value = last.results[0].value
    assert value.is_anomaly is True and 0 < value.severity <= 1
    assert value.interpretation[0].variable == "b" and value.interpretation[0].contribution_score > 0.5
    assert [s.variable for s in last.variable_states] == ["a", "b", "c"]

    # detect-batch on a day with c drifting away over its last 50 minutes
    test_file = tmp_path / "test.csv"
    test_file.write_bytes(data.one_table(data.disturbed(data.series(300, seed=1), "c", last=50, by=-3.0)))
    test_set = running.sdk.upload_dataset(test_file, "press-4-today")
    headers: dict[str, Any] = {}
    accepted = azure.detect_multivariate_batch_anomaly(
        model_id,
        MultivariateBatchDetectionOptions(
            data_source=f"shopfloor://datasets/{test_set['id']}",
            top_contributor_count=2,
            start_time=data.START.replace(hour=1, minute=40),
            end_time=data.START.replace(hour=4, minute=59),
        ),
        cls=lambda response, body, found: headers.update(found) or body,
    )
    result_id = accepted.result_id
    location = headers["operation-location"]
    assert location.endswith(f"/anomalydetector/v1.1/multivariate/detect-batch/{result_id}")
    result = _wait(
        lambda: azure.get_multivariate_batch_detection_result(result_id),
        lambda r: r.summary.status in ("READY", "FAILED"),
    )
    assert result.summary.status == "READY", result.summary.errors
    assert len(result.results) == 200
    since = data.START.replace(hour=4, minute=15)
    late = [r for r in result.results if r.value.is_anomaly and r.timestamp >= since]
    assert len(late) >= 40 and all(r.value.interpretation[0].variable == "c" for r in late)

    with pytest.raises(ResourceNotFoundError) as caught:
        azure.get_multivariate_model("no-such-model")
    assert caught.value.error is not None and caught.value.error.code == "ModelNotExist"
    with pytest.raises(HttpResponseError) as bad:
        azure.detect_multivariate_last_anomaly(
            model_id,
            MultivariateLastDetectionOptions(
                variables=[VariableValues(**v) for v in data.variable_values(recent)[:2]],
                top_contributor_count=3,
            ),
        )
    assert bad.value.status_code == 400 and "c" in str(bad.value.error.message)


def test_train_from_a_bucket_through_the_tenants_source(running: Running) -> None:
    azure = running.azure
    one = _train(azure, f"s3://{running.bucket}/press/train.csv")
    multi = _train(azure, f"s3://{running.bucket}/press/train.zip", data_schema="MultiTable")
    for model_id in (one, multi):
        model = _ready(azure, model_id)
        assert model.model_info.status == "READY", model.model_info.errors
        states = model.model_info.diagnostics_info.variable_states
        assert sorted(s.variable for s in states) == ["a", "b", "c"]
    # every model, one per page: the client follows nextLink
    listed = [m.model_id for m in azure.list_multivariate_models(top=1)]
    assert {one, multi} <= set(listed) and len(listed) == len(set(listed))

    broken = data.disturbed(data.series(1260).tail(60), "a", last=10, by=-3.0)
    last = azure.detect_multivariate_last_anomaly(
        multi,
        MultivariateLastDetectionOptions(
            variables=[VariableValues(**v) for v in data.variable_values(broken)], top_contributor_count=1
        ),
    )
    assert last.results[0].value.is_anomaly and last.results[0].value.interpretation[0].variable == "a"

    with pytest.raises(HttpResponseError) as caught:
        _train(azure, "s3://a-bucket-no-source-serves/train.csv")
    assert caught.value.status_code == 400 and caught.value.error.code == "DataSourceError"
    assert "a-bucket-no-source-serves" in caught.value.error.message
    with pytest.raises(HttpResponseError) as caught:
        _train(azure, f"s3://{running.bucket}/press/missing.csv")
    assert caught.value.error.code == "DataSourceError" and "missing.csv" in caught.value.error.message

    azure.delete_multivariate_model(one)
    with pytest.raises(ResourceNotFoundError):
        azure.get_multivariate_model(one)

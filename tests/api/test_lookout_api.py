"""The Lookout for Equipment route in process: signatures, keys, permissions and errors in AWS's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aws_signing import aws_key, call
from shopfloor.security import limits
from shopfloor.security.roles import Permission
from shopfloor.services.lookout import catalog
from shopfloor.services.lookout.operations import Operation

Api = Any


def aws_error(answer: Any) -> str:
    assert answer.headers["content-type"].startswith("application/x-amz-json-1.0")
    body = answer.json()
    assert body["__type"] == answer.headers["x-amzn-ErrorType"]
    assert body["message"]
    return str(body["__type"])


@pytest.fixture()
def echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """An operation that answers who called it, with the permission of a dataset read."""
    op = Operation(
        "EchoCaller", Permission.DATASETS_READ, lambda _p, who, req: {"Tenant": who.tenant, "Got": req}
    )
    monkeypatch.setitem(catalog.OPERATIONS, op.name, op)


def test_key_with_aws_pair(api: Api) -> None:
    answer = api.client.post("/v1/keys", json={"role": "builder", "aws": True}, headers=api.headers())
    created = answer.json()
    assert created["aws_access_key_id"].startswith("SFAK") and len(created["aws_access_key_id"]) == 20
    assert len(created["aws_secret_access_key"]) == 40
    # the secret is stored sealed: not in clear anywhere in the registry
    stored = api.platform.store.get_access_key(created["aws_access_key_id"])
    assert stored is not None and created["aws_secret_access_key"].encode() not in stored.sealed_secret
    plain = api.client.post("/v1/keys", json={"role": "builder"}, headers=api.headers()).json()
    assert plain.get("aws_access_key_id") is None
    items = api.client.get("/v1/keys", headers=api.headers()).json()["items"]
    listed = {k["id"]: k["aws_access_key_id"] for k in items}
    assert listed[created["id"]] == created["aws_access_key_id"] and listed[plain["id"]] is None


def test_signed_call_runs_as_the_api_key(api: Api, echo: None) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    answer = call(api.client, key, "EchoCaller", {"A": 1})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-amz-json-1.0")
    assert answer.json() == {"Tenant": "default", "Got": {"A": 1}}
    # without the trailing slash too, and with any region in the scope
    bare = call(api.client, key, "EchoCaller", path="/aws/lookoutequipment", region="eu-central-1")
    assert bare.status_code == 200


def test_wrong_secret_unknown_key_and_revoked_key(api: Api, echo: None) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    wrong = key.secret[:-1] + ("y" if key.secret.endswith("x") else "x")  # never the secret itself
    answer = call(api.client, key, "EchoCaller", secret=wrong)
    assert answer.status_code == 403 and aws_error(answer) == "InvalidSignatureException"
    stranger = type(key)("SFAK0000000000000000", key.secret)
    assert aws_error(call(api.client, stranger, "EchoCaller")) == "UnrecognizedClientException"
    owner = api.platform.store.get_access_key(key.access_key_id)
    assert owner is not None
    api.client.delete(f"/v1/keys/{owner.api_key_id}", headers=api.headers())
    answer = call(api.client, key, "EchoCaller")
    assert answer.status_code == 403 and aws_error(answer) == "UnrecognizedClientException"


def test_unsigned_and_bearer_requests_refused(api: Api, echo: None) -> None:
    target = {"X-Amz-Target": "AWSLookoutEquipmentFrontendService.EchoCaller"}
    answer = api.client.post("/aws/lookoutequipment", content=b"{}", headers=target)
    assert aws_error(answer) == "MissingAuthenticationTokenException"
    answer = api.client.post("/aws/lookoutequipment", content=b"{}", headers={**target, **api.headers()})
    assert aws_error(answer) == "IncompleteSignatureException"


def test_role_without_the_permission_is_denied_and_audited(api: Api, echo: None) -> None:
    key = aws_key(api.client, api.headers(), "consumer")
    answer = call(api.client, key, "EchoCaller")
    assert answer.status_code == 403 and aws_error(answer) == "AccessDeniedException"
    assert "datasets:read" in answer.json()["message"]


def test_unknown_operation_and_bad_body(api: Api, echo: None) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    answer = call(api.client, key, "DescribeNothing")
    assert answer.status_code == 400 and aws_error(answer) == "UnknownOperationException"
    assert "DescribeNothing" in answer.json()["message"]


def test_errors_elsewhere_stay_problem_json(api: Api) -> None:
    answer = api.client.get("/v1/models/none", headers=api.headers())
    assert answer.headers["content-type"].startswith("application/problem+json")


SCHEMA = json.dumps(
    {
        "Components": [
            {
                "ComponentName": "pump",
                "Columns": [{"Name": "Timestamp", "Type": "DATETIME"}, {"Name": "flow", "Type": "DOUBLE"}],
            }
        ]
    }
)


def create(api: Api, key: Any, name: str = "pump-1", token: str = "t1", schema: str = SCHEMA) -> Any:
    request = {"DatasetName": name, "DatasetSchema": {"InlineDataSchema": schema}, "ClientToken": token}
    return call(api.client, key, "CreateDataset", request)


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ("not json", "not JSON"),
        ("{}", "Components"),
        ('{"Components": [{"ComponentName": "a b", "Columns": []}]}', "ComponentName"),
        ('{"Components": [{"ComponentName": "a", "Columns": [{"Name": "x", "Type": "DOUBLE"}]}]}',
         "DATETIME"),
        (
            '{"Components": [{"ComponentName": "a", "Columns": [{"Name": "t", "Type": "DATETIME"}, '
            '{"Name": "x", "Type": "CATEGORICAL"}]}]}',
            "CATEGORICAL",
        ),
    ],
)
def test_bad_schema_refused(api: Api, schema: str, says: str) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    answer = create(api, key, schema=schema)
    assert answer.status_code == 400 and aws_error(answer) == "ValidationException"
    assert says in answer.json()["message"]
    assert api.platform.store.list_lookout_datasets("default") == []


def test_dataset_names_idempotency_and_tenants(api: Api) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    assert create(api, key).json()["Status"] == "CREATED"
    assert create(api, key).status_code == 200  # the SDK's retry: the same token, the same answer
    taken = create(api, key, token="t2")
    assert aws_error(taken) == "ConflictException" and "pump-1" in taken.json()["message"]
    assert aws_error(create(api, key, name="bad name!")) == "ValidationException"
    other = aws_key(api.client, api.headers("other"), "builder")
    answer = call(api.client, other, "DescribeDataset", {"DatasetName": "pump-1"})
    assert answer.status_code == 404 and aws_error(answer) == "ResourceNotFoundException"
    assert call(api.client, other, "ListDatasets").json()["DatasetSummaries"] == []


def test_listing_pages(api: Api) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    for n in range(3):
        create(api, key, name=f"line-{n}", token=f"t{n}")
    first = call(api.client, key, "ListDatasets", {"MaxResults": 2}).json()
    assert [d["DatasetName"] for d in first["DatasetSummaries"]] == ["line-0", "line-1"]
    rest = call(api.client, key, "ListDatasets", {"MaxResults": 2, "NextToken": first["NextToken"]}).json()
    assert [d["DatasetName"] for d in rest["DatasetSummaries"]] == ["line-2"] and "NextToken" not in rest
    assert aws_error(call(api.client, key, "ListDatasets", {"NextToken": "junk"})) == "ValidationException"
    assert aws_error(call(api.client, key, "ListDatasets", {"MaxResults": 0})) == "ValidationException"


def test_ingestion_refusals(api: Api) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    s3 = {"S3InputConfiguration": {"Bucket": "plant-data", "Prefix": "train/"}}
    request = {
        "DatasetName": "pump-1",
        "IngestionInputConfiguration": s3,
        "RoleArn": "arn:aws:iam::123456789012:role/lookout",
        "ClientToken": "i1",
    }
    missing = call(api.client, key, "StartDataIngestionJob", request)
    assert aws_error(missing) == "ResourceNotFoundException" and "pump-1" in missing.json()["message"]
    create(api, key)
    unserved = call(api.client, key, "StartDataIngestionJob", request)
    assert aws_error(unserved) == "ValidationException" and "plant-data" in unserved.json()["message"]
    no_role = call(api.client, key, "StartDataIngestionJob", {**request, "RoleArn": ""})
    assert aws_error(no_role) == "ValidationException" and "RoleArn" in no_role.json()["message"]
    assert api.platform.store.list_lookout_ingestions("default") == []
    answer = call(api.client, key, "DescribeDataIngestionJob", {"JobId": "job_nothing"})
    assert aws_error(answer) == "ResourceNotFoundException"
    answer = call(api.client, key, "ListSensorStatistics", {"DatasetName": "pump-1"})
    assert aws_error(answer) == "ResourceNotFoundException" and "no successful" in answer.json()["message"]


def test_label_refusals(api: Api) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    label = {"LabelGroupName": "g", "StartTime": 1.7e9, "EndTime": 1.7e9 + 60, "Rating": "ANOMALY"}
    label["ClientToken"] = "l"
    assert aws_error(call(api.client, key, "CreateLabel", label)) == "ResourceNotFoundException"
    group = {"LabelGroupName": "g", "FaultCodes": ["bearing"], "ClientToken": "g1"}
    assert call(api.client, key, "CreateLabelGroup", group).status_code == 200
    again = call(api.client, key, "CreateLabelGroup", {**group, "ClientToken": "g2"})
    assert aws_error(again) == "ConflictException"
    bad_rating = call(api.client, key, "CreateLabel", {**label, "Rating": "BAD"})
    assert aws_error(bad_rating) == "ValidationException"
    wrong_code = call(api.client, key, "CreateLabel", {**label, "FaultCode": "seal"})
    assert aws_error(wrong_code) == "ValidationException" and "bearing" in wrong_code.json()["message"]
    made = call(api.client, key, "CreateLabel", label).json()["LabelId"]
    assert call(api.client, key, "CreateLabel", label).json()["LabelId"] == made  # same token
    other = aws_key(api.client, api.headers("other"), "builder")
    gone = call(api.client, other, "DeleteLabel", {"LabelGroupName": "g", "LabelId": made})
    assert aws_error(gone) == "ResourceNotFoundException"
    assert len(api.platform.store.list_labels("default", "g")) == 1


def test_malformed_body(api: Api) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    answer = call(api.client, key, "ListDatasets", body=b"[1, 2")
    assert aws_error(answer) == "ValidationException" and "not JSON" in answer.json()["message"]
    answer = call(api.client, key, "ListDatasets", body=b"[1, 2]")
    assert aws_error(answer) == "ValidationException" and "object" in answer.json()["message"]


def test_rate_limit_is_throttling(api: Api) -> None:
    key = aws_key(api.client, api.headers(), "builder")
    limits.set_quotas(api.platform, "default", key_rpm=2)
    for _ in range(2):
        assert call(api.client, key, "ListDatasets").status_code == 200
    answer = call(api.client, key, "ListDatasets")
    assert answer.status_code == 429 and aws_error(answer) == "ThrottlingException"
    assert int(answer.headers["retry-after"]) >= 1


def test_old_signature_refused(api: Api, echo: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth

    key = aws_key(api.client, api.headers(), "builder")
    late = datetime.now(UTC) - timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: late)
    answer = call(api.client, key, "EchoCaller")
    assert answer.status_code == 403 and aws_error(answer) == "InvalidSignatureException"
    assert "expired" in answer.json()["message"]

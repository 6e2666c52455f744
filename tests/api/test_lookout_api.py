"""The Lookout for Equipment route in process: signatures, keys, permissions and errors in AWS's shape."""

from __future__ import annotations

from typing import Any

import pytest

from aws_signing import aws_key, call
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
    answer = call(api.client, key, "EchoCaller", secret=key.secret[:-1] + "x")
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

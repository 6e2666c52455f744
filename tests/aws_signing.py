"""Calling the Lookout for Equipment facade in process, signed by botocore's own SigV4 signer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fastapi.testclient import TestClient

PATH = "/aws/lookoutequipment/"
TARGET = "AWSLookoutEquipmentFrontendService."


@dataclass(frozen=True)
class AwsKey:
    access_key_id: str
    secret: str


def aws_key(client: TestClient, admin_headers: dict[str, str], role: str) -> AwsKey:
    """A new API key of ``role`` with its access key pair, through ``POST /v1/keys``."""
    answer = client.post("/v1/keys", json={"role": role, "aws": True}, headers=admin_headers)
    assert answer.status_code == 201, answer.text
    return AwsKey(answer.json()["aws_access_key_id"], answer.json()["aws_secret_access_key"])


def call(
    client: TestClient,
    key: AwsKey,
    operation: str,
    request: dict[str, Any] | None = None,
    *,
    secret: str | None = None,
    region: str = "us-east-1",
    path: str = PATH,
    body: bytes | None = None,
) -> httpx.Response:
    """POST ``operation`` with ``request`` (or the raw ``body``) as boto3 would, signed with ``key``
    (or ``secret``)."""
    body = json.dumps(request or {}).encode() if body is None else body
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": TARGET + operation}
    signing = AWSRequest(method="POST", url=f"http://testserver{path}", data=body, headers=headers)
    credentials = Credentials(key.access_key_id, secret or key.secret)
    SigV4Auth(credentials, "lookoutequipment", region).add_auth(signing)
    return client.post(path, content=body, headers=dict(signing.prepare().headers))

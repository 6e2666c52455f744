"""SigV4 verification against botocore's own signer: what boto3 signs passes, anything changed fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shopfloor.security import sigv4

KEY_ID, SECRET = "SFAKTESTTESTTEST0001", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3"
TARGET = "AWSLookoutEquipmentFrontendService.ListDatasets"
ALGO = "AWS4-HMAC-SHA256"


def signed(
    body: bytes = b'{"MaxResults": 5}',
    *,
    url: str = "http://127.0.0.1:8123/aws/lookoutequipment/",
    secret: str = SECRET,
    region: str = "eu-west-1",
    service: str = "lookoutequipment",
    headers: dict[str, str] | None = None,
) -> sigv4.SignedRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": TARGET, **(headers or {})},
    )
    SigV4Auth(Credentials(KEY_ID, secret), service, region).add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    # What the server sees: the HTTP client adds Host from the URL (botocore signs the same value).
    wire = [("Host", parts.netloc), *((k, v) for k, v in prepared.headers.items())]
    return sigv4.SignedRequest("POST", parts.path, parts.query, wire, prepared.body or b"")


def secrets_of(key_id: str) -> str | None:
    return SECRET if key_id == KEY_ID else None


def check(request: sigv4.SignedRequest, now: datetime | None = None) -> sigv4.Authorization:
    return sigv4.verify(request, "lookoutequipment", secrets_of, now=now)


def changed(
    request: sigv4.SignedRequest,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    path: str | None = None,
) -> sigv4.SignedRequest:
    return sigv4.SignedRequest(
        "POST",
        request.raw_path if path is None else path,
        request.raw_query,
        request.headers if headers is None else headers,
        request.body if body is None else body,
    )


def test_what_botocore_signs_verifies() -> None:
    auth = sigv4.verify(signed(), "lookoutequipment", secrets_of)
    assert (auth.access_key_id, auth.region, auth.service) == (KEY_ID, "eu-west-1", "lookoutequipment")
    assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(auth.signed_headers)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/aws/lookoutequipment",
        "http://localhost/aws/lookoutequipment/?b=2&a=x%20y&a=1",
        "http://localhost:9/aws//lookoutequipment/./x/../",
        "http://localhost:9/aws/look%20out~equipment/",
    ],
)
def test_paths_and_queries_canonicalised_as_botocore(url: str) -> None:
    check(signed(url=url))


def test_any_region_and_empty_body() -> None:
    sigv4.verify(signed(b"", region="ap-southeast-2"), "lookoutequipment", secrets_of)


def test_wrong_secret_refused() -> None:
    with pytest.raises(sigv4.SignatureError, match="does not match") as caught:
        sigv4.verify(signed(secret=SECRET + "x"), "lookoutequipment", secrets_of)
    assert caught.value.code == "invalid-signature"


def test_unknown_key_refused() -> None:
    with pytest.raises(sigv4.UnknownAccessKey):
        sigv4.verify(signed(), "lookoutequipment", lambda _: None)


def test_tampered_body_refused() -> None:
    with pytest.raises(sigv4.SignatureError, match="does not match"):
        check(changed(signed(), body=b'{"MaxResults": 6}'))


def test_tampered_target_refused() -> None:
    request = signed()
    other = TARGET.replace("ListDatasets", "DeleteDataset")
    headers = [(k, other if k == "X-Amz-Target" else v) for k, v in request.headers]
    with pytest.raises(sigv4.SignatureError, match="does not match"):
        check(changed(request, headers=headers))


def test_tampered_path_refused() -> None:
    with pytest.raises(sigv4.SignatureError):
        check(changed(signed(), path="/aws/other/"))


def test_old_and_future_dates_refused() -> None:
    request = signed()
    with pytest.raises(sigv4.SignatureError, match="expired"):
        check(request, now=datetime.now(UTC) + timedelta(minutes=16))
    with pytest.raises(sigv4.SignatureError, match="expired"):
        check(request, now=datetime.now(UTC) - timedelta(minutes=16))
    # within the window either way: accepted
    check(request, now=datetime.now(UTC) + timedelta(minutes=14))


def test_other_service_refused() -> None:
    with pytest.raises(sigv4.SignatureError, match="service 's3'"):
        sigv4.verify(signed(service="s3"), "lookoutequipment", secrets_of)


def test_unsigned_amz_header_refused() -> None:
    request = signed()
    with pytest.raises(sigv4.IncompleteSignature, match="x-amz-security-token"):
        check(changed(request, headers=[*request.headers, ("X-Amz-Security-Token", "t")]))


@pytest.mark.parametrize(
    ("header", "error", "match"),
    [
        (None, sigv4.MissingAuthentication, "missing"),
        ("Bearer sfk_x_y", sigv4.IncompleteSignature, "AWS4-HMAC-SHA256"),
        (f"{ALGO} Credential=A/20260101/r/lookoutequipment/aws4_request", sigv4.IncompleteSignature, "lacks"),
        (
            f"{ALGO} Credential=A/20260101/lookoutequipment/aws4_request, SignedHeaders=host, Signature=00",
            sigv4.IncompleteSignature,
            "Credential must be",
        ),
        (
            f"{ALGO} Credential=A/20260101/r/lookoutequipment/aws4_request, SignedHeaders=x-amz-date;host, "
            "Signature=00",
            sigv4.IncompleteSignature,
            "sorted",
        ),
    ],
)
def test_malformed_authorization_refused(header: str | None, error: type[Exception], match: str) -> None:
    request = signed()
    headers = [(k, v) for k, v in request.headers if k.lower() != "authorization"]
    if header is not None:
        headers.append(("Authorization", header))
    with pytest.raises(error, match=match):
        check(changed(request, headers=headers))


def test_scope_date_must_be_request_date() -> None:
    request = signed()
    headers = [
        (k, v.replace("/" + v.split("/")[1] + "/", "/19990101/", 1) if k == "Authorization" else v)
        for k, v in request.headers
    ]
    with pytest.raises(sigv4.SignatureError, match="scope date"):
        check(changed(request, headers=headers))


def test_signing_key_matches_the_aws_documented_example() -> None:
    # The worked example of the AWS General Reference ("Examples of how to derive a signing key").
    key = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"

"""Tenants' S3 sources against a real S3-compatible server (moto's, in its own process, checking
signatures): reads, lists and writes through the tenant's own credentials, the limits and the
errors that name what failed, the operator's egress policy, and tenants kept apart."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from s3server import REGION, MotoServer
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.errors import (
    Conflict,
    EndpointNotAllowed,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    SourceDenied,
    SourceUnavailable,
)
from shopfloor.security.keys import Principal
from shopfloor.services import sources
from shopfloor.settings import Settings

ALICE = Principal(key_id="key_alice", tenant="plant-a", role="builder")
BOB = Principal(key_id="key_bob", tenant="plant-b", role="builder")
LOOPBACK = ["127.0.0.1/32"]


@pytest.fixture(scope="module")
def signed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, dict[str, str]]]:
    """A moto server that checks signatures (after the three set-up calls that make a user with a
    key allowed everything on S3), the key, and two buckets holding a few objects."""
    server = MotoServer(
        tmp_path_factory.mktemp("moto-signed") / "server.log", env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    ).start()
    try:
        iam = boto3.client(
            "iam", endpoint_url=server.url, region_name=REGION,
            aws_access_key_id="setup", aws_secret_access_key="setup",
        )
        iam.create_user(UserName="plant")
        made = iam.create_access_key(UserName="plant")["AccessKey"]
        everything = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
        allow = {"Version": "2012-10-17", "Statement": everything}
        iam.put_user_policy(UserName="plant", PolicyName="s3", PolicyDocument=json.dumps(allow))
        key = {"id": made["AccessKeyId"], "secret": made["SecretAccessKey"]}
        s3 = _s3(server, key)
        for bucket in ("line-data", "results"):
            s3.create_bucket(Bucket=bucket)
        for name, body in [("press/2026-01.csv", b"a,b\n1,2\n"), ("press/2026-02.csv", b"a,b\n3,4\n5,6\n"),
                           ("pump/2026-01.csv", b"x\n")]:
            s3.put_object(Bucket="line-data", Key=name, Body=body)
        yield server, key
    finally:
        server.stop()


def _s3(server: MotoServer, key: dict[str, str]) -> Any:
    return boto3.client(
        "s3", endpoint_url=server.url, region_name=REGION,
        aws_access_key_id=key["id"], aws_secret_access_key=key["secret"],
    )


def _platform(home: Path, **more: Any) -> Platform:
    fields: dict[str, Any] = {
        "home": home, "source_allowed_networks": LOOPBACK, "source_timeout_s": 2.0, "source_max_attempts": 1,
    }
    return prepare(Settings(**{**fields, **more}))


@pytest.fixture()
def platform(tmp_path: Path) -> Iterator[Platform]:
    found = _platform(tmp_path / "home")
    for tenant in (ALICE.tenant, BOB.tenant):
        found.store.ensure_tenant(tenant)
    yield found
    found.close()


def _add(platform: Platform, server: MotoServer, key: dict[str, str], **more: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "plant-minio", "endpoint_url": server.url, "region": REGION,
        "access_key_id": key["id"], "secret": key["secret"], "buckets": ["line-data", "results"],
    }
    return sources.add_source(platform, ALICE, **{**fields, **more})


def test_read_list_and_write_through_the_tenants_source(platform: Platform, signed_s3: Any) -> None:
    server, key = signed_s3
    shown = _add(platform, server, key)
    assert "secret" not in shown and key["secret"] not in repr(shown)
    assert shown["buckets"] == ["line-data", "results"] and shown["endpoint_url"] == server.url

    read = sources.read_object(platform, ALICE.tenant, "line-data", "press/2026-01.csv", max_bytes=100)
    assert read == b"a,b\n1,2\n"
    listed = sources.list_objects(platform, ALICE.tenant, "line-data", "press/")
    assert [(o.key, o.size) for o in listed] == [("press/2026-01.csv", 8), ("press/2026-02.csv", 12)]
    assert all(str(o.modified.tzinfo) == "UTC" for o in listed)
    assert len(sources.list_objects(platform, ALICE.tenant, "line-data")) == 3

    line = b'{"a": 1}\n'
    sources.write_object(platform, ALICE.tenant, "results", "out/scores.jsonl", line, "application/x-ndjson")
    head = _s3(server, key).head_object(Bucket="results", Key="out/scores.jsonl")
    assert head["ContentType"] == "application/x-ndjson" and head["ContentLength"] == 9
    assert sources.read_object(platform, ALICE.tenant, "results", "out/scores.jsonl", max_bytes=9) == line


def test_the_secret_is_sealed_and_audit_keeps_no_secret(platform: Platform, signed_s3: Any) -> None:
    server, key = signed_s3
    _add(platform, server, key)
    stored = platform.store.get_source(ALICE.tenant, "plant-minio")
    assert key["secret"].encode() not in stored.sealed_secret
    files = sorted(platform.settings.home.glob("registry.db*"))  # the database and its WAL
    assert files and all(key["secret"].encode() not in f.read_bytes() for f in files)
    assert key["id"].encode() in b"".join(f.read_bytes() for f in files)  # what is stored in clear
    sources.remove_source(platform, ALICE, "plant-minio")
    events = platform.store.list_audit(ALICE.tenant)
    assert [e.action for e in events if e.action.startswith("source.")] == ["source.add", "source.remove"]
    assert key["secret"] not in repr(events)


def test_max_bytes_missing_objects_and_buckets_are_named(platform: Platform, signed_s3: Any) -> None:
    server, key = signed_s3
    _add(platform, server, key, buckets=["line-data", "not-made-yet"])
    too_large = r"s3://line-data/press/2026-02.csv .*over the limit of 11 bytes"
    with pytest.raises(PayloadTooLarge, match=too_large):
        sources.read_object(platform, ALICE.tenant, "line-data", "press/2026-02.csv", max_bytes=11)
    missing = r"s3://line-data/press/nope.csv \(source 'plant-minio'.*no such object"
    with pytest.raises(NotFound, match=missing):
        sources.read_object(platform, ALICE.tenant, "line-data", "press/nope.csv", max_bytes=100)
    with pytest.raises(NotFound, match="bucket 'not-made-yet' does not exist"):
        sources.list_objects(platform, ALICE.tenant, "not-made-yet")
    with pytest.raises(InvalidInput, match="no source of this tenant serves the bucket 'elsewhere'"):
        sources.read_object(platform, ALICE.tenant, "elsewhere", "a.csv", max_bytes=100)


def test_wrong_credentials_are_a_clear_refusal(platform: Platform, signed_s3: Any) -> None:
    server, key = signed_s3
    _add(platform, server, key)
    read = sources.read_object(platform, ALICE.tenant, "line-data", "pump/2026-01.csv", max_bytes=10)
    assert read == b"x\n"
    # registered again with a wrong secret: the next call signs with that one, not a kept client's
    sources.remove_source(platform, ALICE, "plant-minio")
    _add(platform, server, key, secret="not-the-secret")
    with pytest.raises(SourceDenied, match=rf"refused its credentials .*access key '{key['id']}'"):
        sources.read_object(platform, ALICE.tenant, "line-data", "press/2026-01.csv", max_bytes=100)
    with pytest.raises(SourceDenied):
        sources.write_object(platform, ALICE.tenant, "results", "x.csv", b"x", "text/csv")
    assert "Contents" not in _s3(server, key).list_objects_v2(Bucket="results", Prefix="x.csv")


def test_the_egress_policy_guards_adding_and_every_call(tmp_path: Path, signed_s3: Any) -> None:
    server, key = signed_s3
    closed = _platform(tmp_path / "closed", source_allowed_networks=[])
    closed.store.ensure_tenant(ALICE.tenant)
    with pytest.raises(EndpointNotAllowed, match="sources are not enabled on this server"):
        _add(closed, server, key)
    other = _platform(tmp_path / "closed", source_allowed_networks=["10.0.0.0/8"])
    with pytest.raises(EndpointNotAllowed, match=r"127.0.0.1:\d+ is not allowed"):
        _add(other, server, key)
    assert other.store.list_sources(ALICE.tenant) == []
    other.close()
    closed.close()
    # added while allowed, then the operator narrows the policy: the next call is refused
    opened = _platform(tmp_path / "open")
    opened.store.ensure_tenant(ALICE.tenant)
    _add(opened, server, key)
    opened.close()
    narrowed = _platform(tmp_path / "open", source_allowed_networks=["10.0.0.0/8"])
    with pytest.raises(EndpointNotAllowed, match="outside the allowed networks"):
        sources.read_object(narrowed, ALICE.tenant, "line-data", "press/2026-01.csv", max_bytes=100)
    narrowed.close()


def test_an_endpoint_that_does_not_answer(platform: Platform, signed_s3: Any) -> None:
    _, key = signed_s3
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sources.add_source(
        platform, ALICE, name="down", endpoint_url=f"http://127.0.0.1:{port}", region=REGION,
        access_key_id=key["id"], secret=key["secret"], buckets=["archive"],
    )
    with pytest.raises(SourceUnavailable, match=r"s3://archive/a.csv \(source 'down' .*does not answer"):
        sources.read_object(platform, ALICE.tenant, "archive", "a.csv", max_bytes=100)


def test_tenants_never_reach_each_others_sources(platform: Platform, signed_s3: Any) -> None:
    server, key = signed_s3
    _add(platform, server, key)
    with pytest.raises(InvalidInput, match="no source of this tenant serves"):
        sources.read_object(platform, BOB.tenant, "line-data", "press/2026-01.csv", max_bytes=100)
    with pytest.raises(NotFound):
        sources.get_source(platform, BOB.tenant, "plant-minio")
    with pytest.raises(NotFound):
        sources.remove_source(platform, BOB, "plant-minio")
    assert sources.list_sources(platform, BOB.tenant) == []
    assert [s["name"] for s in sources.list_sources(platform, ALICE.tenant)] == ["plant-minio"]


def test_refused_registrations_store_nothing(platform: Platform, signed_s3: Any) -> None:
    server, key = signed_s3
    _add(platform, server, key)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"name": "second"}, Conflict, "'line-data' is already served by source 'plant-minio'"),
        ({"name": "third", "buckets": ["Bad_Bucket"]}, InvalidInput, "not a bucket name"),
        ({"name": "third", "buckets": ["ok-one", "ok-one"]}, InvalidInput, "listed twice"),
        ({"name": "third", "buckets": []}, InvalidInput, "1 to 100 buckets"),
        ({"name": "t", "buckets": ["x1x"], "endpoint_url": "ftp://127.0.0.1"}, EndpointNotAllowed, "http"),
        ({"name": "t", "buckets": ["x1x"], "endpoint_url": f"{server.url}/bucket"}, InvalidInput, "only"),
        ({"name": "t", "buckets": ["x1x"], "endpoint_url": "http://u:p@127.0.0.1:9"}, InvalidInput, "creden"),
    ]
    for change, error, words in cases:
        with pytest.raises(error, match=words):
            _add(platform, server, key, **change)
    assert [s["name"] for s in sources.list_sources(platform, ALICE.tenant)] == ["plant-minio"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://line-data/press/2026-01.csv", ("line-data", "press/2026-01.csv")),
        ("s3://line-data/press/", ("line-data", "press/")),
        ("s3://line-data", ("line-data", "")),
        ("http://minio.plant.local:9000/line-data/a%20b.csv", ("line-data", "a b.csv")),
        ("https://s3.example.com/results/out/", ("results", "out/")),
    ],
)
def test_parse_url(url: str, expected: tuple[str, str]) -> None:
    assert sources.parse_url(url) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://x/y", "not an S3 location"),
        ("s3://Bad_Bucket/k", "no valid bucket"),
        ("https://host/", "no valid bucket"),
        ("s3://line-data/k?versionId=1", "query"),
        ("line-data/k", "not an S3 location"),
    ],
)
def test_parse_url_refusals(url: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        sources.parse_url(url)

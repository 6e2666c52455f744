"""A tenant's own bucket at an S3-compatible endpoint (AWS S3, MinIO, Ceph RGW), reached with the
tenant's credentials through boto3: read (bounded), list, write, and boto3's failures turned into
errors that name the source, the bucket and the key.

Unlike :mod:`shopfloor.storage.s3` (the server's artifact store, whose data is sealed), these objects
belong to the tenant and are read and written as they are. Every call is bounded like the artifact
store's: connect and read timeouts and a fixed number of attempts, so an endpoint that is down or
hung fails the call within seconds with :class:`~shopfloor.errors.SourceUnavailable`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shopfloor.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ShopfloorError,
    SourceDenied,
    SourceUnavailable,
)
from shopfloor.registry.source_entities import SourceObject

log = logging.getLogger(__name__)

#: Answers that mean "no such object".
_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
#: Answers that mean "these credentials may not do this" (or are not known there at all).
_DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "ExpiredToken",
    "InvalidToken",
    "AccountProblem",
}
#: A read is pulled in pieces of this size, so ``max_bytes`` stops it early whatever the headers say.
_CHUNK = 1024 * 1024
#: S3's own limit on a key's length, in UTF-8 bytes.
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class Endpoint:
    """Where a source is and how it signs: what a boto3 client needs (the secret in clear, in
    memory for the call only)."""

    source: str  # the source's name, for messages
    url: str
    region: str
    access_key_id: str
    secret: str
    timeout_s: float
    attempts: int


def bucket_client(endpoint: Endpoint) -> Any:
    """A boto3 S3 client for ``endpoint``: bounded timeouts and retries, path-style addressing
    (MinIO and Ceph serve buckets under the path). boto3 is imported here, on first use: the API
    process starts without it."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=endpoint.timeout_s,
        read_timeout=endpoint.timeout_s,
        retries={"max_attempts": endpoint.attempts, "mode": "standard"},
        s3={"addressing_style": "path"},
        # older MinIO and Ceph releases refuse the newer default checksums on every request
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret,
        config=config,
    )


def _boto_failures() -> tuple[type[Exception], ...]:
    """What a boto3 call raises when the endpoint or the request fails (imported on first use)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def check_key(key: str, *, what: str = "object key") -> str:
    """``key`` if S3 takes it as an object name: not empty, at most 1024 UTF-8 bytes, no control
    characters; InvalidInput otherwise."""
    if not key or len(key.encode()) > MAX_KEY_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidInput(
            f"{what} {key!r} is not a valid S3 key: 1 to {MAX_KEY_BYTES} bytes, no control characters",
            errors=[{"loc": ["key"], "msg": "invalid S3 key"}],
        )
    return key


class SourceBucket:
    """One bucket of one source; ``client`` is a boto3 S3 client (see :func:`bucket_client`)."""

    def __init__(self, endpoint: Endpoint, bucket: str, client: Any | None = None) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.client = client if client is not None else bucket_client(endpoint)

    def at(self, bucket: str) -> SourceBucket:
        """Another bucket of the same source, through the same client."""
        return self if bucket == self.bucket else SourceBucket(self.endpoint, bucket, self.client)

    def _where(self, key: str | None = None) -> str:
        place = f"s3://{self.bucket}/{key}" if key is not None else f"bucket {self.bucket!r}"
        return f"{place} (source {self.endpoint.source!r} at {self.endpoint.url})"

    def _failed(self, exc: Exception, doing: str, key: str | None = None) -> ShopfloorError:
        """The project error for a boto3 failure; the raw answer is logged, never returned."""
        from botocore.exceptions import ClientError

        where = self._where(key)
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code == "NoSuchBucket":
                return NotFound(f"{doing} {where}: the bucket {self.bucket!r} does not exist at the source")
            if code in _MISSING_KEY:
                return NotFound(f"{doing} {where}: no such object")
            if code in _DENIED or status == 403:
                return SourceDenied(
                    f"{doing} {where}: the source refused its credentials ({code or status}); check the "
                    f"access key {self.endpoint.access_key_id!r}, its secret and what it may do on the bucket"
                )
            if status >= 500 or not status:
                log.warning("source %s answered %s to %s", where, code or status, doing)
                answered = f"the source answered {code or status}"
                return SourceUnavailable(f"{doing} {where}: {answered}; try again later")
            return InvalidInput(f"{doing} {where}: the source refused the request ({code or status})")
        log.warning("source %s unreachable for %s: %s", where, doing, exc)
        return SourceUnavailable(
            f"{doing} {where}: the endpoint does not answer ({type(exc).__name__}); try again later"
        )

    def read(self, key: str, *, max_bytes: int) -> bytes:
        """The object's bytes; PayloadTooLarge when it holds more than ``max_bytes`` (nothing more is
        read than that plus one piece)."""
        check_key(key)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except _boto_failures() as exc:
            raise self._failed(exc, "reading", key) from None
        body = answer["Body"]
        try:
            size = answer.get("ContentLength")
            if size is not None and int(size) > max_bytes:
                raise self._too_large(key, int(size), max_bytes)
            pieces, total = [], 0
            while chunk := body.read(min(_CHUNK, max_bytes + 1 - total)):
                pieces.append(chunk)
                total += len(chunk)
                if total > max_bytes:
                    raise self._too_large(key, None, max_bytes)
            return b"".join(pieces)
        except _boto_failures() as exc:
            raise self._failed(exc, "reading", key) from None
        finally:
            body.close()

    def _too_large(self, key: str, size: int | None, max_bytes: int) -> PayloadTooLarge:
        held = f"{size} bytes" if size is not None else "more"
        return PayloadTooLarge(f"{self._where(key)} holds {held}, over the limit of {max_bytes} bytes")

    def list(self, prefix: str = "", *, limit: int = 100_000) -> list[SourceObject]:
        """The objects whose key starts with ``prefix``, in key order; PayloadTooLarge beyond ``limit``."""
        if prefix:
            check_key(prefix, what="prefix")
        found: list[SourceObject] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    modified = _utc(item["LastModified"])
                    found.append(SourceObject(str(item["Key"]), int(item["Size"]), modified))
                if len(found) > limit:
                    raise PayloadTooLarge(
                        f"{self._where(prefix)}: more than {limit} objects under the prefix; "
                        "name a narrower one"
                    )
        except _boto_failures() as exc:
            raise self._failed(exc, "listing", prefix) from None
        return sorted(found, key=lambda o: o.key)

    def write(self, key: str, data: bytes, content_type: str) -> None:
        """Write (or replace) the object ``key`` with ``data``."""
        check_key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except _boto_failures() as exc:
            raise self._failed(exc, "writing", key) from None


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)

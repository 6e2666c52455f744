"""Artifacts as objects in an S3-compatible store (AWS S3, MinIO, Ceph RGW), through boto3.

``s3://bucket/prefix``: every key is stored as the object ``prefix/key``. A ``put_object`` is atomic
(a reader sees the whole object or none), so the protocol's promise holds without temporary
names. The store only ever sees what it is given: tenant data arrives sealed
(:class:`~shopfloor.storage.sealed.SealedArtifacts` wraps this class).

Every call is bounded: connect and read timeouts and a fixed number of attempts come from the
settings, so an endpoint that is down or hung fails a request within seconds with
:class:`~shopfloor.errors.StoreUnavailable` (503 with ``Retry-After``) instead of holding it for
minutes; the next call tries again, so the server recovers by itself when the store is back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shopfloor.errors import InvalidInput, NotFound, ShopfloorError, StoreUnavailable
from shopfloor.settings import Settings

log = logging.getLogger(__name__)

#: Answers that mean "this object is not there" rather than "the store is in trouble".
_MISSING = {"NoSuchKey", "404", "NotFound"}
#: Most keys one DeleteObjects call takes.
_DELETE_BATCH = 1000


#: Readiness probes answer within about this many seconds whatever the settings say.
PROBE_TIMEOUT_S = 2.0


def s3_client(settings: Settings, *, timeout_s: float | None = None, attempts: int | None = None) -> Any:
    """A boto3 S3 client for the settings: bounded timeouts and retries, path-style addressing for
    a custom endpoint (MinIO and Ceph serve buckets under the path, not as host names)."""
    timeout_s = timeout_s or settings.s3_timeout_s
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": attempts or settings.s3_max_attempts, "mode": "standard"},
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        # The newer default checksums (CRC32 on every request) are refused by older MinIO and Ceph
        # releases; integrity is ours anyway (AES-GCM tag and the recorded sha256 on every read).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=32,
    )
    secret = settings.s3_secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region or ("us-east-1" if settings.s3_endpoint_url else None),
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        config=config,
    )


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``; the prefix is empty or ends with ``/``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidInput(f"artifact store URL {url!r} names no bucket; use s3://bucket/prefix")
    prefix = "/".join(p for p in parsed.path.split("/") if p)
    return parsed.netloc, f"{prefix}/" if prefix else ""


class S3ArtifactStore:
    """Objects under ``prefix`` in ``bucket``; ``client`` is a boto3 S3 client (see :func:`s3_client`),
    ``probe_client`` one with a single short attempt for :meth:`probe` (default: ``client``)."""

    def __init__(self, bucket: str, prefix: str, client: Any, probe_client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client = client
        self.probe_client = probe_client or client

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> S3ArtifactStore:
        bucket, prefix = parse_s3_url(url)
        quick = s3_client(settings, timeout_s=min(settings.s3_timeout_s, PROBE_TIMEOUT_S), attempts=1)
        return cls(bucket, prefix, s3_client(settings), quick)

    def _object(self, key: str) -> str:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"invalid artifact key {key!r}")
        return self.prefix + key

    def _failed(self, exc: Exception, what: str) -> ShopfloorError:
        """The project error for a boto3 failure; the raw answer is logged, not returned."""
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                return NotFound(f"{what} is missing from the artifact store")
            log.warning("S3 store s3://%s refused %s: %s", self.bucket, what, code or exc)
            return StoreUnavailable(
                f"the artifact store refused {what} ({code or 'error'}); check that the bucket "
                f"{self.bucket!r} exists and the credentials may use it, or try again"
            )
        log.warning("S3 store s3://%s unreachable for %s: %s", self.bucket, what, exc)
        return StoreUnavailable(f"the artifact store does not answer ({type(exc).__name__}); try again later")

    def put_bytes(self, key: str, data: bytes) -> str:
        name = self._object(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(exc, f"writing artifact {key!r}") from None
        return key

    def put_file(self, key: str, source: Path) -> str:
        return self.put_bytes(key, source.read_bytes())

    def get_bytes(self, key: str) -> bytes:
        name = self._object(key)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name)
            return bytes(answer["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(exc, f"artifact {key!r}") from None

    def exists(self, key: str) -> bool:
        name = self._object(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except (BotoCoreError, ClientError) as exc:
            error = self._failed(exc, f"artifact {key!r}")
            if isinstance(error, NotFound):
                return False
            raise error from None
        return True

    def _names_under(self, folder: str) -> Iterator[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder)
            for page in pages:
                for item in page.get("Contents", ()):
                    yield str(item["Key"])
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(exc, f"listing {folder!r}") from None

    def delete_prefix(self, prefix: str) -> None:
        """Remove the object ``prefix`` and every object below ``prefix/`` (not ``prefix-other``)."""
        name = self._object(prefix.rstrip("/"))
        names = [name, *self._names_under(name + "/")]
        for start in range(0, len(names), _DELETE_BATCH):
            batch = [{"Key": n} for n in names[start : start + _DELETE_BATCH]]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except (BotoCoreError, ClientError) as exc:
                raise self._failed(exc, f"deleting {prefix!r}") from None
            if answer.get("Errors"):
                first = answer["Errors"][0]
                log.warning("S3 store s3://%s kept %s: %s", self.bucket, first.get("Key"), first.get("Code"))
                raise StoreUnavailable(
                    f"the artifact store did not delete {len(answer['Errors'])} object(s) under "
                    f"{prefix!r} ({first.get('Code')}); try again"
                )

    def list_prefix(self, prefix: str) -> Iterator[str]:
        folder = self._object(prefix.rstrip("/")) + "/"
        for name in sorted(self._names_under(folder)):
            yield name[len(self.prefix) :]

    def probe(self) -> None:
        """Raise :class:`~shopfloor.errors.StoreUnavailable` unless the bucket answers (HEAD bucket)."""
        try:
            self.probe_client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            error = self._failed(exc, f"the bucket {self.bucket!r}")
            if isinstance(error, NotFound):  # HEAD has no body: a missing bucket is a bare 404
                error = StoreUnavailable(f"the bucket {self.bucket!r} does not exist in the artifact store")
            raise error from None

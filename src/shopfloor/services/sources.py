"""Tenants' S3-compatible sources: register, list, remove; and the reads, lists and writes that
the protocol facades (Lookout for Equipment, Azure Anomaly Detector) make in tenants' buckets.

An admin or builder registers a *source*: an endpoint URL, its region, an access key id with its
secret, and the buckets it serves (a bucket belongs to one source of a tenant). The secret is sealed
with the tenant's key (AES-256-GCM, bound to the tenant and source name) and never shown again.

Every read and write of a tenant's bucket goes through that tenant's own source, never through the
server's artifact-store credentials, and only to an endpoint the operator's egress policy allows
(``SHOPFLOOR_SOURCE_ALLOWED_HOSTS`` / ``SHOPFLOOR_SOURCE_ALLOWED_NETWORKS``): checked when the source is
added and again, on the addresses its name resolves to then, before every call. Between that check
and boto3's own connection a name could still resolve elsewhere (DNS rebinding); name hosts the
operator controls, or allow networks, not names on a public resolver.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from shopfloor.context import Platform
from shopfloor.errors import Conflict, EndpointNotAllowed, InvalidInput, SourceUnavailable
from shopfloor.registry.source_entities import Source, SourceObject
from shopfloor.security import crypto
from shopfloor.security.egress import EgressPolicy, Purpose
from shopfloor.security.keys import Principal
from shopfloor.services import audit
from shopfloor.storage.buckets import Endpoint, SourceBucket, check_key

#: A source's name, as the routes take it.
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
#: A bucket name as AWS, MinIO and Ceph all accept it.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
MAX_SOURCES = 50
MAX_BUCKETS = 100
#: Sources whose clients one process keeps.
_CLIENTS = 64
_CACHE_LOCK = threading.Lock()

_PURPOSE = Purpose(
    what="source endpoint",
    url="source endpoint URL",
    settings="SHOPFLOOR_SOURCE_ALLOWED_HOSTS, SHOPFLOOR_SOURCE_ALLOWED_NETWORKS",
    enabled="sources are not enabled on this server",
    error=EndpointNotAllowed,
)


def policy_of(platform: Platform) -> EgressPolicy:
    """The operator's policy for source endpoints."""
    settings = platform.settings
    return EgressPolicy(settings.source_allowed_hosts, settings.source_allowed_networks, purpose=_PURPOSE)


# -- the registry of sources ------------------------------------------------------------------------


def add_source(
    platform: Platform,
    principal: Principal,
    *,
    name: str,
    endpoint_url: str,
    region: str,
    access_key_id: str,
    secret: str,
    buckets: list[str],
) -> dict[str, Any]:
    """Register a source of the caller's tenant; its view (never the secret). InvalidInput naming
    the field, EndpointNotAllowed (422) outside the operator's policy, Conflict for a taken name or a
    bucket another source serves; nothing is stored then."""
    endpoint = _endpoint(platform, endpoint_url)
    wanted = _buckets(buckets)
    if len(platform.store.list_sources(principal.tenant)) >= MAX_SOURCES:
        raise Conflict(f"this tenant has {MAX_SOURCES} sources, the most it may have: remove one first")
    source = Source(
        tenant=principal.tenant,
        name=name,
        endpoint_url=endpoint,
        region=region,
        access_key_id=access_key_id,
        buckets=wanted,
        sealed_secret=_seal(platform, principal.tenant, name, secret),
        created_by=principal.key_id,
    )
    stored = platform.store.add_source(source)
    audit.record(
        platform, principal, "source.add", name, endpoint=endpoint, buckets=list(stored.buckets)
    )
    return view(stored)


def list_sources(platform: Platform, tenant: str) -> list[dict[str, Any]]:
    return [view(s) for s in platform.store.list_sources(tenant)]


def get_source(platform: Platform, tenant: str, name: str) -> dict[str, Any]:
    return view(platform.store.get_source(tenant, name))


def remove_source(platform: Platform, principal: Principal, name: str) -> None:
    """Delete a source of the caller's tenant (NotFound for an unknown or another tenant's)."""
    gone = platform.store.delete_source(principal.tenant, name)
    audit.record(platform, principal, "source.remove", name, buckets=list(gone.buckets))


def view(source: Source) -> dict[str, Any]:
    """What the API shows of a source: everything but the secret."""
    return {
        "name": source.name,
        "endpoint_url": source.endpoint_url,
        "region": source.region,
        "access_key_id": source.access_key_id,
        "buckets": list(source.buckets),
        "created_at": source.created_at,
        "created_by": source.created_by,
    }


# -- objects in tenants' buckets --------------------------------------------------------------------


def read_object(platform: Platform, tenant: str, bucket: str, key: str, *, max_bytes: int) -> bytes:
    """The bytes of ``s3://bucket/key`` through the tenant's source for ``bucket``.

    Raises InvalidInput when no source of the tenant serves the bucket, NotFound for a missing
    object or bucket, PayloadTooLarge over ``max_bytes``, SourceDenied when the source refuses its
    credentials, SourceUnavailable when the endpoint does not answer, EndpointNotAllowed when the
    operator's policy no longer allows it."""
    return _bucket(platform, tenant, bucket).read(key, max_bytes=max_bytes)


def list_objects(platform: Platform, tenant: str, bucket: str, prefix: str = "") -> list[SourceObject]:
    """The objects of ``bucket`` whose key starts with ``prefix`` (key, size, modified in UTC), in
    key order; errors as :func:`read_object`."""
    return _bucket(platform, tenant, bucket).list(prefix)


def write_object(
    platform: Platform, tenant: str, bucket: str, key: str, data: bytes, content_type: str
) -> None:
    """Write ``data`` to ``s3://bucket/key`` through the tenant's source; errors as :func:`read_object`."""
    _bucket(platform, tenant, bucket).write(key, data, content_type)


def parse_url(url: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key`` or of a path-style ``http(s)://endpoint/bucket/key``;
    the key may be empty or a prefix ending in ``/``. InvalidInput naming the URL otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme == "s3":
        bucket, key = parts.netloc, parts.path.removeprefix("/")
    elif parts.scheme in ("http", "https") and parts.netloc:
        bucket, _, key = unquote(parts.path).removeprefix("/").partition("/")
    else:
        raise InvalidInput(
            f"{url!r} is not an S3 location: use s3://bucket/key or http(s)://endpoint/bucket/key",
            errors=[{"loc": ["url"], "msg": "not an S3 URL"}],
        )
    if parts.query or parts.fragment:
        raise InvalidInput(
            f"{url!r} carries a query or fragment; name the object as s3://bucket/key",
            errors=[{"loc": ["url"], "msg": "query or fragment"}],
        )
    if not BUCKET.fullmatch(bucket):
        raise InvalidInput(
            f"{url!r} names no valid bucket (3 to 63 lower-case letters, digits, '.' or '-')",
            errors=[{"loc": ["url"], "msg": "invalid bucket"}],
        )
    if key:
        check_key(key)
    return bucket, key


# -- inside -----------------------------------------------------------------------------------------


def _place(tenant: str, name: str) -> str:
    return f"{tenant}/sources/{name}/secret"


def _seal(platform: Platform, tenant: str, name: str, secret: str) -> bytes:
    return crypto.encrypt(platform.sealed.tenant_key(tenant), _place(tenant, name), secret.encode())


def _open(platform: Platform, source: Source) -> str:
    key = platform.sealed.tenant_key(source.tenant)
    return crypto.decrypt(key, _place(source.tenant, source.name), source.sealed_secret).decode()


def _endpoint(platform: Platform, url: str) -> str:
    """The endpoint URL as stored (``scheme://host[:port]``), checked against the policy."""
    try:
        target = policy_of(platform).check(url)
    except EndpointNotAllowed as exc:
        where = [{"loc": ["body", "endpoint_url"], "msg": exc.detail}]
        raise EndpointNotAllowed(exc.detail, errors=where) from None
    parts = urlsplit(target.url)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "the endpoint URL must not carry credentials: give the access key id and secret apart",
            errors=[{"loc": ["body", "endpoint_url"], "msg": "credentials in the URL"}],
        )
    if parts.path not in ("", "/") or parts.query:
        raise InvalidInput(
            f"the endpoint URL {url!r} must be scheme://host[:port] only (buckets go in 'buckets')",
            errors=[{"loc": ["body", "endpoint_url"], "msg": "path or query in the endpoint"}],
        )
    return f"{parts.scheme}://{parts.netloc}"


def _buckets(buckets: list[str]) -> tuple[str, ...]:
    if not buckets or len(buckets) > MAX_BUCKETS:
        raise InvalidInput(
            f"a source serves 1 to {MAX_BUCKETS} buckets",
            errors=[{"loc": ["body", "buckets"], "msg": "wrong number of buckets"}],
        )
    for i, bucket in enumerate(buckets):
        if not BUCKET.fullmatch(bucket):
            raise InvalidInput(
                f"{bucket!r} is not a bucket name: 3 to 63 lower-case letters, digits, '.' or '-'",
                errors=[{"loc": ["body", "buckets", i], "msg": "invalid bucket name"}],
            )
    if len(set(buckets)) != len(buckets):
        raise InvalidInput(
            "a bucket is listed twice", errors=[{"loc": ["body", "buckets"], "msg": "duplicate bucket"}]
        )
    return tuple(buckets)


def _bucket(platform: Platform, tenant: str, bucket: str) -> SourceBucket:
    """The tenant's bucket through its source, the endpoint checked against the policy now."""
    source = platform.store.source_for_bucket(tenant, bucket)
    if source is None:
        raise InvalidInput(
            f"no source of this tenant serves the bucket {bucket!r}: register one that does "
            "(POST /v1/sources, `shopfloor sources add`)",
            errors=[{"loc": ["bucket"], "msg": f"bucket {bucket!r} not served"}],
        )
    policy = policy_of(platform)
    try:
        policy.addresses(policy.check(source.endpoint_url))
    except OSError as exc:
        raise SourceUnavailable(
            f"the endpoint {source.endpoint_url} of source {source.name!r} does not resolve ({exc})"
        ) from None
    # one boto3 client (and its connection pool) per source as registered, reused by later calls
    cache: dict[tuple[Any, ...], SourceBucket] = vars(platform).setdefault("_source_clients", {})
    mark = (source.tenant, source.name, source.created_at, source.sealed_secret)
    with _CACHE_LOCK:
        found = cache.get(mark)
    if found is None:
        settings = platform.settings
        endpoint = Endpoint(
            source=source.name,
            url=source.endpoint_url,
            region=source.region,
            access_key_id=source.access_key_id,
            secret=_open(platform, source),
            timeout_s=settings.source_timeout_s,
            attempts=settings.source_max_attempts,
        )
        found = SourceBucket(endpoint, bucket)
        with _CACHE_LOCK:
            while len(cache) >= _CLIENTS:
                cache.pop(next(iter(cache)))  # the oldest first
            cache[mark] = found
    return found.at(bucket)

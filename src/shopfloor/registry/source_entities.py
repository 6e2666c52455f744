"""Frozen entities of tenants' S3-compatible sources (see :class:`~shopfloor.registry.store.SourceStore`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Source:
    """An S3-compatible endpoint a tenant registered, with its own credentials and the buckets it
    serves. ``sealed_secret`` is the secret access key encrypted with the tenant's key by the caller;
    ``buckets`` are unique within the tenant (one source per bucket)."""

    tenant: str
    name: str
    endpoint_url: str
    region: str
    access_key_id: str
    buckets: tuple[str, ...]
    sealed_secret: bytes = field(repr=False)
    created_at: datetime | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class SourceObject:
    """One object listed in a source's bucket: its key, size in bytes and last change (UTC)."""

    key: str
    size: int
    modified: datetime

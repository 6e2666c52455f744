"""Tenants' sources in the registry: one source per bucket within a tenant, refused changes store
nothing, and tenants never see each other's sources (both backends)."""

from __future__ import annotations

import pytest

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.source_entities import Source
from shopfloor.registry.sql import SqlStore


def _source(name: str = "plant", tenant: str = "a", buckets: tuple[str, ...] = ("raw", "out")) -> Source:
    return Source(
        tenant=tenant,
        name=name,
        endpoint_url="http://minio.plant.local:9000",
        region="us-east-1",
        access_key_id="AKIA1",
        buckets=buckets,
        sealed_secret=b"\x01sealed",
        created_by="key_1",
    )


def test_add_get_list_and_delete(store: SqlStore) -> None:
    added = store.add_source(_source())
    assert added.buckets == ("out", "raw") and added.sealed_secret == b"\x01sealed"
    assert added.created_at is not None and added.created_at.tzinfo is not None
    assert store.get_source("a", "plant") == added
    assert [s.name for s in store.list_sources("a")] == ["plant"]
    found = store.source_for_bucket("a", "raw")
    assert found is not None and found.name == "plant"
    assert store.source_for_bucket("a", "elsewhere") is None
    assert store.delete_source("a", "plant").name == "plant"
    assert store.list_sources("a") == [] and store.source_for_bucket("a", "raw") is None


def test_a_bucket_belongs_to_one_source_and_a_refusal_stores_nothing(store: SqlStore) -> None:
    store.add_source(_source())
    with pytest.raises(Conflict, match="already exists"):
        store.add_source(_source(buckets=("other",)))
    with pytest.raises(Conflict, match="'raw' is already served by source 'plant'"):
        store.add_source(_source("second", buckets=("fresh", "raw")))
    assert [s.name for s in store.list_sources("a")] == ["plant"]
    assert store.source_for_bucket("a", "fresh") is None
    # once the first source is gone its buckets are free again
    store.delete_source("a", "plant")
    assert store.add_source(_source("second", buckets=("fresh", "raw"))).buckets == ("fresh", "raw")


def test_tenants_never_see_each_other(store: SqlStore) -> None:
    store.add_source(_source())
    store.add_source(_source(tenant="b"))  # same name and buckets, another tenant: its own
    assert store.source_for_bucket("b", "raw") is not None
    store.delete_source("b", "plant")
    with pytest.raises(NotFound):
        store.get_source("b", "plant")
    with pytest.raises(NotFound):
        store.delete_source("b", "plant")
    assert store.list_sources("b") == [] and store.get_source("a", "plant").tenant == "a"

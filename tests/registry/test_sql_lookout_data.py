"""The Lookout facade's datasets, ingestions, label groups and labels in the registry: creations are
idempotent by client token, a name taken with another token is a Conflict, tenants never see each
other's (both backends). And AWS access keys live and die with their API key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.clock import now
from shopfloor.registry.entities import AccessKey, ApiKey
from shopfloor.registry.lookout_data_entities import Label, LabelGroup, LookoutDataset, LookoutIngestion
from shopfloor.registry.sql import SqlStore


def _dataset(name: str = "pump-1", token: str = "t1", tenant: str = "a") -> LookoutDataset:
    return LookoutDataset(tenant, name, {"Components": []}, token, now(), now())


def _label(at: int, token: str, group: str = "g", rating: str = "ANOMALY") -> Label:
    start = datetime(2024, 1, 1, at, tzinfo=UTC)
    return Label(f"label_{token}", "a", group, start, start.replace(minute=30), rating, token, now())


def test_datasets_idempotent_and_per_tenant(store: SqlStore) -> None:
    first, created = store.add_lookout_dataset(_dataset())
    assert created and first.created_at.tzinfo is not None
    again, created = store.add_lookout_dataset(_dataset())
    assert not created and again == first
    with pytest.raises(Conflict, match="pump-1"):
        store.add_lookout_dataset(_dataset(token="t2"))
    store.add_lookout_dataset(_dataset("pump-2"))
    assert [d.name for d in store.list_lookout_datasets("a", "pump-")] == ["pump-1", "pump-2"]
    assert store.list_lookout_datasets("b") == []
    with pytest.raises(NotFound):
        store.get_lookout_dataset("b", "pump-1")
    with pytest.raises(NotFound):
        store.delete_lookout_dataset("b", "pump-1")


def test_ingestions_go_with_their_dataset(store: SqlStore) -> None:
    store.add_lookout_dataset(_dataset())
    ingestion = LookoutIngestion("job_1", "a", "pump-1", "plant", "train/", None, "arn:role", "c1", now())
    assert store.add_lookout_ingestion(ingestion).bucket == "plant"
    assert [i.id for i in store.list_lookout_ingestions("a", "pump-1")] == ["job_1"]
    with pytest.raises(NotFound):
        store.get_lookout_ingestion("b", "job_1")
    with pytest.raises(NotFound):
        store.add_lookout_ingestion(LookoutIngestion("job_2", "a", "none", "p", "", None, "r", "c", now()))
    store.delete_lookout_dataset("a", "pump-1")
    assert store.list_lookout_ingestions("a") == []


def test_labels(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        store.add_label(_label(1, "x"))
    store.add_label_group(LabelGroup("a", "g", ["bearing"], "g1", now(), now()))
    assert store.add_label_group(LabelGroup("a", "g", [], "g1", now(), now())).fault_codes == ["bearing"]
    with pytest.raises(Conflict):
        store.add_label_group(LabelGroup("a", "g", [], "g2", now(), now()))
    store.add_label(_label(5, "late", rating="NO_ANOMALY"))
    early = store.add_label(_label(1, "early"))
    assert store.add_label(_label(9, "early")) == early  # the same client token: the first label
    assert [x.id for x in store.list_labels("a", "g")] == ["label_early", "label_late"]
    window = store.list_labels(
        "a", "g", datetime(2024, 1, 1, 4, tzinfo=UTC), datetime(2024, 1, 1, 6, tzinfo=UTC)
    )
    assert [x.rating for x in window] == ["NO_ANOMALY"]
    with pytest.raises(NotFound):
        store.list_labels("b", "g")
    with pytest.raises(NotFound):
        store.delete_label("a", "other-group", "label_early")
    store.delete_label_group("a", "g")
    with pytest.raises(NotFound):
        store.get_label("a", "g", "label_late")


def test_access_keys_follow_their_api_key(store: SqlStore) -> None:
    key = store.add_key(ApiKey("key_1", "a", "builder", None, "h" * 64, now()))
    pair = AccessKey("SFAK0000000000000001", "a", key.id, b"\x01sealed", now())
    assert store.add_access_key(pair).active
    with pytest.raises(NotFound):  # another tenant's API key
        store.add_access_key(AccessKey("SFAK0000000000000002", "b", key.id, b"x", now()))
    store.revoke_key("a", key.id)
    found = store.get_access_key(pair.id)
    assert found is not None and not found.active and found.sealed_secret == b"\x01sealed"
    assert store.get_access_key("SFAK9999999999999999") is None
    with pytest.raises(NotFound):  # a revoked key gets no new access key
        store.add_access_key(AccessKey("SFAK0000000000000003", "a", key.id, b"x", now()))
    assert [k.id for k in store.list_access_keys("a")] == [pair.id]

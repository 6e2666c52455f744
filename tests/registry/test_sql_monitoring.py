"""The prediction log in the registry: sealed batches with their clear index, rates, retention,
feedback, and a retention sweep that several hosts may run at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from shopfloor.registry.log_entities import Feedback, LogBatch, LogBlob, LoggedPrediction, parse_record_id
from shopfloor.registry.sql import SqlStore

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _batch(
    store: SqlStore, blob: str, at: datetime, n: int = 3, tenant: str = "a", version: int = 1
) -> list[LoggedPrediction]:
    records = [
        LoggedPrediction(blob, i, tenant, "m", version, f"req-{blob}", i, "predict", at + i * SECOND)
        for i in range(n)
    ]
    sealed = LogBlob(blob, tenant, "m", version, records[0].at, records[-1].at, n, b"sealed:" + blob.encode())
    store.add_prediction_log(
        [LogBatch(sealed, [r.request_id for r in records], [r.position for r in records], ["predict"] * n,
                  [r.at for r in records])]
    )
    return records


def test_a_batch_is_found_by_request_id_key_and_time(store: SqlStore) -> None:
    first = _batch(store, "b0000001", T0)
    _batch(store, "b0000002", T0 + timedelta(hours=1), version=2)
    found = store.find_logged("a", "m", request_ids=["req-b0000001"])
    assert sorted(r.slot for r in found) == [0, 1, 2]
    assert found[0].at.tzinfo is not None
    assert store.find_logged("a", "m", keys=[("b0000002", 1)])[0].version == 2
    assert store.find_logged("b", "m", keys=[("b0000002", 1)]) == []  # another tenant's
    assert store.find_logged("a", "other", request_ids=["req-b0000001"]) == []  # another model's
    assert [r.record_id for r in store.list_logged("a", "m", version=1)] == [r.record_id for r in first]
    newest = store.list_logged("a", "m", newest_first=True, limit=2)
    assert [(r.blob_id, r.slot) for r in newest] == [("b0000002", 2), ("b0000002", 1)]
    page = store.list_logged("a", "m", after=(first[1].at, "b0000001", 1))
    assert [(r.blob_id, r.slot) for r in page][:2] == [("b0000001", 2), ("b0000002", 0)]
    window = store.list_logged("a", "m", since=T0 + timedelta(seconds=1), until=T0 + timedelta(minutes=5))
    assert [r.slot for r in window] == [1, 2]
    blobs = store.get_log_blobs("a", ["b0000001", "b0000001", "nope"])
    assert list(blobs) == ["b0000001"] and blobs["b0000001"].payload == b"sealed:b0000001"
    assert store.get_log_blobs("b", ["b0000001"]) == {}
    assert parse_record_id(first[2].record_id) == ("b0000001", 2)
    assert parse_record_id("not an id") is None


def test_rates_move_the_generation_and_zero_removes(store: SqlStore) -> None:
    before = store.read_generation()
    store.set_log_rate("a", "m", 0.25)
    assert store.log_rates("a") == {"m": 0.25}
    assert store.read_generation() == before + 1
    store.set_log_rate("a", "m", 1.0)
    assert store.log_rates("a") == {"m": 1.0} and store.log_rates("b") == {}
    store.set_log_rate("a", "m", 0.0)
    assert store.log_rates("a") == {}


def test_retention_is_per_tenant(store: SqlStore) -> None:
    store.set_log_retention("a", 7)
    store.set_log_retention("a", 9)
    assert store.log_retention() == {"a": 9}
    store.set_log_retention("a", None)
    assert store.log_retention() == {}


def test_feedback_is_replaced_and_scoped_to_its_tenant(store: SqlStore) -> None:
    _batch(store, "b0000001", T0)
    store.put_feedback([Feedback("b0000001", 0, "a", "m", 1, b"x1", T0)])
    store.put_feedback(
        [Feedback("b0000001", 0, "a", "m", 1, b"x2", T0), Feedback("b0000001", 1, "a", "m", 1, b"y", T0)]
    )
    got = store.get_feedback("a", [("b0000001", 0), ("b0000001", 1), ("b0000001", 2)])
    assert {k: f.outcome for k, f in got.items()} == {("b0000001", 0): b"x2", ("b0000001", 1): b"y"}
    assert store.get_feedback("b", [("b0000001", 0)]) == {}


def test_the_sweep_removes_whole_expired_batches_only(store: SqlStore) -> None:
    _batch(store, "b0000001", T0)
    _batch(store, "b0000002", T0 + timedelta(days=2))
    _batch(store, "b0000003", T0, tenant="b")
    store.put_feedback([Feedback("b0000001", 0, "a", "m", 1, b"x", T0)])
    assert store.log_tenants() == ["a", "b"]
    assert store.purge_prediction_log("a", T0 + timedelta(days=1), batch=1) == 3
    assert [r.blob_id for r in store.list_logged("a", "m")] == ["b0000002"] * 3
    assert store.get_feedback("a", [("b0000001", 0)]) == {}
    assert store.get_log_blobs("a", ["b0000001"]) == {}
    assert len(store.list_logged("b", "m")) == 3  # another tenant's log keeps its own retention
    assert store.purge_prediction_log("a", T0 + timedelta(days=1)) == 0


def test_two_sweepers_at_once_remove_each_batch_once(store: SqlStore) -> None:
    for i in range(40):
        _batch(store, f"c{i:07d}", T0 + timedelta(minutes=i), n=2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            counts.append(store.purge_prediction_log("a", T0 + timedelta(days=1), batch=5))
        except BaseException as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts) == 80
    assert store.list_logged("a", "m") == []


def test_deleting_a_model_drops_its_log(store: SqlStore) -> None:
    store.add_version(
        tenant="a", model="m", task="tabular_classification", report={}, input_schema=[], files={},
        artifact="a/models/m/x", lineage={}, job_id=None,
    )
    _batch(store, "b0000001", T0)
    store.set_log_rate("a", "m", 1.0)
    store.put_feedback([Feedback("b0000001", 0, "a", "m", 1, b"x", T0)])
    store.delete_model("a", "m")
    assert store.list_logged("a", "m") == [] and store.log_rates("a") == {}
    assert store.get_feedback("a", [("b0000001", 0)]) == {} and store.log_tenants() == []

"""Windows of the prediction log in the registry (SQLite and PostgreSQL): calls with their latency
and failures counted from the clear index, what a window holds, predictions with an outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shopfloor.registry.log_entities import CallOutcomes, Feedback, LogBatch, LogBlob, LoggedPrediction
from shopfloor.registry.sql import SqlStore

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _call(
    store: SqlStore, blob: str, at: datetime, latency: float, n: int = 2, *, failed: bool = False,
    source: str = "predict", tenant: str = "a", version: int = 1,
) -> list[LoggedPrediction]:
    """One call of ``n`` answers (one entry if it failed), its latency on the first only."""
    rows = [
        LoggedPrediction(
            blob, i, tenant, "m", version, f"req-{blob}", i, source, at, latency if i == 0 else None, failed
        )
        for i in range(1 if failed else n)
    ]
    sealed = LogBlob(blob, tenant, "m", version, at, at, len(rows), b"sealed")
    store.add_prediction_log(
        [LogBatch(sealed, [r.request_id for r in rows], [r.position for r in rows], [r.source for r in rows],
                  [r.at for r in rows], [r.latency_ms for r in rows], [r.failed for r in rows])]
    )
    return rows


def test_calls_failures_and_the_99th_percentile_of_latency(store: SqlStore) -> None:
    for k in range(99):
        _call(store, f"b{k:07d}", T0 + k * SECOND, latency=float(k + 1))
    _call(store, "f0000001", T0 + 100 * SECOND, latency=5000.0, failed=True)
    _call(store, "j0000001", T0 + 101 * SECOND, latency=9000.0, source="batch")  # not a request
    _call(store, "v0000001", T0 + 102 * SECOND, latency=9000.0, version=2)
    _call(store, "t0000001", T0 + 103 * SECOND, latency=9000.0, tenant="b")
    sources = ("predict", "score")
    found = store.log_outcomes("a", "m", 1, T0, T0 + timedelta(hours=1), sources)
    # 100 calls: the 99th percentile is the 99th smallest latency (nearest rank)
    assert found == CallOutcomes(calls=100, failed=1, latency_p99_ms=99.0)
    assert store.log_outcomes("a", "m", 1, T0, T0 + 10 * SECOND, sources) == CallOutcomes(10, 0, 10.0)
    assert store.log_outcomes("a", "m", 1, T0 - SECOND, T0, sources) == CallOutcomes(0, 0, None)
    assert store.log_outcomes("b", "m", 1, T0, T0 + timedelta(hours=1), sources).calls == 1


def test_a_windows_count_and_failed_calls_kept_out_of_predictions(store: SqlStore) -> None:
    first = _call(store, "b0000001", T0, latency=3.0, n=3)
    _call(store, "f0000001", T0 + SECOND, latency=4.0, failed=True)
    hour = T0 + timedelta(hours=1)
    held = store.count_logged("a", "m", 1, T0, hour)
    assert (held.predictions, held.outcomes, held.last_outcome_at) == (3, 0, None)
    received = T0 + timedelta(days=1)
    store.put_feedback([Feedback("b0000001", 1, "a", "m", 1, b"x", received)])
    held = store.count_logged("a", "m", 1, T0, hour)
    assert (held.predictions, held.outcomes, held.last_outcome_at) == (3, 1, received)
    assert [r.failed for r in store.list_logged("a", "m")] == [False] * 3
    assert [r.failed for r in store.list_logged("a", "m", failed=None)] == [False] * 3 + [True]
    assert [r.request_id for r in store.list_logged("a", "m", failed=True)] == ["req-f0000001"]
    assert first[0].latency_ms == store.list_logged("a", "m")[0].latency_ms == 3.0
    assert store.list_logged("a", "m")[1].latency_ms is None
    # a failed call names no prediction to give feedback on
    assert store.find_logged("a", "m", request_ids=["req-f0000001"]) == []
    assert store.find_logged("a", "m", keys=[("f0000001", 0)]) == []


def test_predictions_with_an_outcome_since_a_time(store: SqlStore) -> None:
    _call(store, "b0000001", T0, latency=1.0, n=3)
    _call(store, "b0000002", T0 + timedelta(hours=1), latency=1.0, n=3, version=2)
    _call(store, "b0000003", T0, latency=1.0, n=3, tenant="b")
    store.put_feedback(
        [Feedback(blob, slot, tenant, "m", 1, b"o", T0) for blob, slot, tenant in
         [("b0000001", 0, "a"), ("b0000001", 2, "a"), ("b0000002", 1, "a"), ("b0000003", 0, "b")]]
    )
    every = store.list_labelled("a", "m")
    assert [(r.blob_id, r.slot) for r in every] == [("b0000001", 0), ("b0000001", 2), ("b0000002", 1)]
    assert [r.slot for r in store.list_labelled("a", "m", since=T0 + SECOND)] == [1]
    page = store.list_labelled("a", "m", after=(every[0].at, "b0000001", 0), limit=1)
    assert [(r.blob_id, r.slot) for r in page] == [("b0000001", 2)]
    assert [r.blob_id for r in store.list_labelled("b", "m")] == ["b0000003"]
    assert store.list_labelled("a", "other") == []

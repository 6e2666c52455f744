"""The Lookout models' and schedulers' tables: a due window claimed by exactly one caller, executions
finished once, events found by interval, tenants kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.lookout_entities import LookoutEvent, LookoutExecution, LookoutModel, LookoutScheduler
from shopfloor.registry.sql import SqlStore

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def _scheduler(tenant: str = "a", name: str = "live") -> LookoutScheduler:
    return LookoutScheduler(
        id=f"lks_{tenant}_{name}",
        tenant=tenant,
        name=name,
        model="m",
        status="RUNNING",
        frequency_s=300,
        delay_s=0,
        config={"frequency": "PT5M"},
        next_data_end=T0,
        due_at=T0,
        revision=0,
    )


def _execution(s: LookoutScheduler, end: datetime, id: str = "lkx_1") -> LookoutExecution:
    return LookoutExecution(
        id=id,
        tenant=s.tenant,
        scheduler_id=s.id,
        scheduled_start=end,
        data_start=end - FIVE,
        data_end=end,
        status="IN_PROGRESS",
    )


def test_models_are_per_tenant(store: SqlStore) -> None:
    made = store.add_lookout_model(LookoutModel("a", "m", "lkm_1", "ds", "job_1", {"x": 1}, "tok"))
    assert made.created_at is not None and store.get_lookout_model("a", "m").config == {"x": 1}
    with pytest.raises(Conflict):
        store.add_lookout_model(LookoutModel("a", "m", "lkm_2", "ds", "job_2"))
    with pytest.raises(NotFound):
        store.get_lookout_model("b", "m")
    assert store.list_lookout_models("b") == []
    with pytest.raises(NotFound):
        store.delete_lookout_model("b", "m")
    store.delete_lookout_model("a", "m")
    assert store.list_lookout_models("a") == []


def test_a_due_window_is_claimed_once(store: SqlStore) -> None:
    s = store.add_lookout_scheduler(_scheduler())
    assert [d.name for d in store.due_lookout_schedulers(T0)] == ["live"]
    assert store.due_lookout_schedulers(T0 - timedelta(seconds=1)) == []
    # two processes read the same state; only the first claim counts
    assert store.claim_lookout_tick(s, _execution(s, T0, "lkx_1"), T0 + FIVE, T0 + FIVE)
    assert not store.claim_lookout_tick(s, _execution(s, T0, "lkx_2"), T0 + FIVE, T0 + FIVE)
    now = store.get_lookout_scheduler("a", "live")
    assert now.next_data_end == T0 + FIVE and now.revision == 1
    assert store.due_lookout_schedulers(T0) == []
    # a window already scored (stopped and started again within it) is skipped, not scored twice
    again = store.set_lookout_scheduler_state("a", "live", "RUNNING", T0, T0)
    assert again is not None
    assert not store.claim_lookout_tick(again, _execution(s, T0, "lkx_3"), T0 + FIVE, T0 + FIVE)
    assert store.get_lookout_scheduler("a", "live").next_data_end == T0 + FIVE
    (run,) = store.list_lookout_executions("a", s.id)
    assert run.id == "lkx_1" and run.status == "IN_PROGRESS"
    assert store.list_lookout_executions("b", s.id) == []


def test_a_stopped_scheduler_claims_nothing(store: SqlStore) -> None:
    s = store.add_lookout_scheduler(_scheduler())
    stopped = store.set_lookout_scheduler_state("a", "live", "STOPPED", None, None, only_from=("RUNNING",))
    assert stopped is not None and stopped.status == "STOPPED" and stopped.due_at is None
    again = store.set_lookout_scheduler_state("a", "live", "STOPPED", None, None, only_from=("RUNNING",))
    assert again is None
    assert not store.claim_lookout_tick(s, _execution(s, T0), T0 + FIVE, T0 + FIVE)
    with pytest.raises(NotFound):
        store.set_lookout_scheduler_state("b", "live", "RUNNING", T0, T0)


def test_executions_finish_once_with_their_events(store: SqlStore) -> None:
    s = store.add_lookout_scheduler(_scheduler())
    assert store.claim_lookout_tick(s, _execution(s, T0), T0 + FIVE, T0 + FIVE)
    start = T0 - FIVE
    event = LookoutEvent("lke_1", "a", s.id, "lkx_1", start, start + timedelta(minutes=2), [{"name": "x"}])
    store.finish_lookout_execution(
        "lkx_1", status="SUCCESS", result=("out", "p/results.jsonl"), model_version=3, events=[event],
        latest_result="ANOMALOUS",
    )
    store.finish_lookout_execution("lkx_1", status="FAILED", failed_reason="late")  # ignored: it ended
    (run,) = store.list_lookout_executions("a", s.id, status="SUCCESS")
    assert (run.result_bucket, run.result_key, run.model_version) == ("out", "p/results.jsonl", 3)
    assert store.get_lookout_scheduler("a", "live").latest_result == "ANOMALOUS"
    found = store.list_lookout_events("a", s.id, T0 - timedelta(minutes=4), T0)
    assert [e.diagnostics for e in found] == [[{"name": "x"}]]
    assert store.list_lookout_events("a", s.id, T0, T0 + FIVE) == []
    assert store.list_lookout_events("b", s.id, T0 - FIVE, T0) == []
    assert store.list_lookout_executions("a", s.id, data_start_after=T0) == []
    store.delete_lookout_scheduler("a", "live")
    assert store.list_lookout_events("a", s.id, T0 - FIVE, T0) == []


def test_executions_left_in_progress_are_failed(store: SqlStore) -> None:
    s = store.add_lookout_scheduler(_scheduler())
    store.claim_lookout_tick(s, _execution(s, T0), T0 + FIVE, T0 + FIVE)
    assert store.fail_stale_lookout_executions(datetime.now(UTC) - timedelta(hours=1), "gone") == 0
    assert store.fail_stale_lookout_executions(datetime.now(UTC) + timedelta(seconds=1), "gone") == 1
    (run,) = store.list_lookout_executions("a", s.id)
    assert (run.status, run.failed_reason) == ("FAILED", "gone")

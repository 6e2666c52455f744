"""Alert rules, states and deliveries in the registry, on SQLite and PostgreSQL: tenant scoping, and
the conditional updates that let several processes share the work without doing a step twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alert_fixtures import rule_entity
from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.entities import AlertRule, NewDelivery
from shopfloor.registry.sql import SqlStore

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def rule(rule_id: str = "alr_1", tenant: str = "a", **changes: Any) -> AlertRule:
    return rule_entity(id=rule_id, tenant=tenant, **changes)


def delivery(delivery_id: str, event: str = "firing", most: int = 3) -> NewDelivery:
    return NewDelivery(
        id=delivery_id,
        event=event,
        sealed_target=b"url-blob",
        target_host="hooks.example.com:443",
        payload={"id": delivery_id, "event": event},
        max_attempts=most,
    )


def test_rules_are_scoped_by_tenant(store: SqlStore) -> None:
    added = store.add_alert_rule(rule())
    assert added.sealed_secret == b"secret-blob" and added.target_hosts == ("hooks.example.com:443",)
    assert store.get_alert_rule("a", "alr_1").name == "drift"
    with pytest.raises(NotFound):
        store.get_alert_rule("b", "alr_1")
    with pytest.raises(NotFound):
        store.update_alert_rule("b", "alr_1", {"bound": 1.0})
    with pytest.raises(NotFound):
        store.delete_alert_rule("b", "alr_1")
    with pytest.raises(NotFound):
        store.list_alert_deliveries("b", "alr_1")
    assert store.list_alert_rules("b") == [] and store.list_alert_states("b") == []
    assert [r.id for r, _ in store.list_alert_states("a")] == ["alr_1"]
    with pytest.raises(Conflict):  # one name per tenant; another tenant may use it
        store.add_alert_rule(rule("alr_2"))
    store.add_alert_rule(rule("alr_3", tenant="b"))
    assert [r.id for r in store.list_alert_rules("a", model="press")] == ["alr_1"]
    assert store.list_alert_rules("a", model="other") == []


def test_a_new_rule_is_ok_and_due_at_once(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    ((found, state),) = store.due_alert_rules(datetime.now(UTC) + timedelta(seconds=1))
    assert found.id == "alr_1" and state.state == "ok" and state.revision == 0 and state.value is None
    store.update_alert_rule("a", "alr_1", {"enabled": False})
    assert store.due_alert_rules(datetime.now(UTC) + timedelta(seconds=1)) == []


def test_one_of_two_claims_of_an_evaluation_wins(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    later = datetime.now(UTC) + timedelta(seconds=1)
    first = store.claim_alert_evaluation("alr_1", 0, later, later + timedelta(seconds=30))
    second = store.claim_alert_evaluation("alr_1", 0, later, later + timedelta(seconds=30))
    assert (first, second) == (1, None)
    assert store.due_alert_rules(later) == []  # not due again before the interval


def test_a_transition_is_written_once_with_its_deliveries(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def fire(n: int) -> None:
        barrier.wait()
        results.append(
            store.record_alert_evaluation(
                "alr_1",
                0,
                state="firing",
                since=NOW,
                value=0.5,
                version=2,
                note=None,
                at=NOW,
                deliveries=[delivery(f"adl_{n}")],
            )
        )

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    assert len(store.list_alert_deliveries("a", "alr_1")) == 1
    ((_, state),) = store.list_alert_states("a")
    assert (state.state, state.value, state.version, state.revision) == ("firing", 0.5, 2, 1)


def test_changing_the_condition_voids_an_evaluation_in_flight(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    store.update_alert_rule("a", "alr_1", {"bound": 0.9})
    written = store.record_alert_evaluation(
        "alr_1", 0, state="firing", since=NOW, value=0.5, version=1, note=None, at=NOW
    )
    assert written is False
    assert store.get_alert_rule("a", "alr_1").bound == 0.9


def test_disabling_a_rule_sets_it_back_to_ok(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    assert store.record_alert_evaluation(
        "alr_1", 0, state="firing", since=NOW, value=0.5, version=1, note=None, at=NOW
    )
    store.update_alert_rule("a", "alr_1", {"enabled": False})
    ((_, state),) = store.list_alert_states("a")
    assert (state.state, state.value, state.note) == ("ok", None, "rule disabled")


def _claims(store: SqlStore) -> Callable[[str, datetime], list[str]]:
    def claim(lease: str, at: datetime) -> list[str]:
        return [d.id for d in store.claim_alert_deliveries(at, lease, at + timedelta(seconds=60))]

    return claim


def test_deliveries_are_claimed_by_one_lease_and_finished_by_it_only(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    store.queue_alert_deliveries("a", "alr_1", [delivery("adl_1"), delivery("adl_2")])
    claim = _claims(store)
    at = datetime.now(UTC) + timedelta(seconds=1)
    assert sorted(claim("lease_x", at)) == ["adl_1", "adl_2"]
    assert claim("lease_y", at) == []  # leased until at + 60 s
    entry = {"attempt": 1, "status": 500}
    assert not store.finish_alert_attempt("adl_1", "lease_y", entry, status="delivered")
    retry_at = at + timedelta(seconds=5)
    assert store.finish_alert_attempt("adl_1", "lease_x", entry, status="pending", next_attempt_at=retry_at)
    assert store.finish_alert_attempt("adl_2", "lease_x", {"attempt": 1, "status": 200}, status="delivered")
    assert claim("lease_y", at) == []  # adl_1 waits for its retry
    assert claim("lease_y", retry_at) == ["adl_1"]
    found = {d.id: d for d in store.list_alert_deliveries("a", "alr_1")}
    assert found["adl_1"].attempts == 2 and found["adl_1"].log == (entry,)
    assert found["adl_2"].status == "delivered" and found["adl_2"].finished_at is not None


def test_a_delivery_whose_last_attempt_never_reported_fails(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    store.queue_alert_deliveries("a", "alr_1", [delivery("adl_1", most=1)])
    claim = _claims(store)
    at = datetime.now(UTC) + timedelta(seconds=1)
    assert claim("lease_x", at) == ["adl_1"]  # the process then stops without recording
    assert claim("lease_y", at + timedelta(seconds=61)) == []
    (found,) = store.list_alert_deliveries("a", "alr_1")
    assert found.status == "failed" and found.attempts == 1


def test_deleting_a_rule_drops_its_state_and_deliveries(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    store.queue_alert_deliveries("a", "alr_1", [delivery("adl_1")])
    store.delete_alert_rule("a", "alr_1")
    assert store.list_alert_rules("a") == [] and store.list_alert_states("a") == []
    assert store.claim_alert_deliveries(datetime.now(UTC) + timedelta(seconds=1), "l", NOW) == []


def test_finished_deliveries_are_pruned(store: SqlStore) -> None:
    store.add_alert_rule(rule())
    store.queue_alert_deliveries("a", "alr_1", [delivery("adl_1"), delivery("adl_2")])
    at = datetime.now(UTC) + timedelta(seconds=1)
    store.claim_alert_deliveries(at, "lease_x", at + timedelta(seconds=60))
    store.finish_alert_attempt("adl_1", "lease_x", {}, status="delivered")
    store.finish_alert_attempt("adl_2", "lease_x", {}, status="pending", next_attempt_at=at)
    assert store.prune_alert_deliveries(datetime.now(UTC) + timedelta(days=1)) == 1
    assert [d.id for d in store.list_alert_deliveries("a", "alr_1")] == ["adl_2"]

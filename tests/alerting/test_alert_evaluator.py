"""Evaluating rules: the version watched, the for-duration, resolution, unknown values, and two
evaluators sharing one registry (SQLite and PostgreSQL) making each transition exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alert_fixtures import ADMIN, DRIFT_RULE, Fixed, Make, add_model, alert_settings
from pgcluster import BACKENDS, database_url
from shopfloor.alerting.evaluator import Evaluator
from shopfloor.alerting.signals import SignalRegistry
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.services import alerts
from webhook_receiver import Receiver


def evaluator(platform: Platform, value: float | None) -> tuple[Evaluator, Fixed]:
    source = Fixed(value)
    signals = SignalRegistry()
    signals.register("drift_score", source)
    return Evaluator(platform, signals), source


def state(platform: Platform, rule_id: str) -> dict[str, object]:
    return alerts.get_rule(platform, "default", rule_id)["state"]  # type: ignore[no-any-return]


def test_the_breach_must_last_for_s_then_resolves_once(platform: Platform, make_rule: Make) -> None:
    rule = make_rule(for_s=120)
    run, source = evaluator(platform, 0.5)
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    assert run.evaluate_due(t0) == []
    assert state(platform, rule["id"])["state"] == "pending"
    assert run.evaluate_due(t0 + timedelta(seconds=10)) == []  # not due again within the interval
    assert run.evaluate_due(t0 + timedelta(seconds=60)) == []
    assert run.evaluate_due(t0 + timedelta(seconds=120)) == [(rule["id"], "firing")]
    assert run.evaluate_due(t0 + timedelta(seconds=180)) == []  # still firing: notified once
    source.v = 0.1
    assert run.evaluate_due(t0 + timedelta(seconds=240)) == [(rule["id"], "resolved")]
    found = state(platform, rule["id"])
    assert (found["state"], found["value"], found["version"]) == ("ok", 0.1, 1)
    actions = [e.action for e in platform.store.list_audit("default", action="alert.firing")]
    assert actions == ["alert.firing"]


def test_the_production_alias_is_followed_and_a_pinned_version_kept(
    platform: Platform, make_rule: Make
) -> None:
    add_model(platform)  # version 2, the latest; no production alias yet
    following, pinned = make_rule(), make_rule(name="pinned", version=1)
    run, source = evaluator(platform, 0.1)
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    run.evaluate_due(t0)
    assert {q.version for q in source.queries} == {2, 1}
    platform.store.set_alias("default", "press", "production", 1)
    source.queries.clear()
    run.evaluate_due(t0 + timedelta(seconds=30))
    assert [q.version for q in source.queries] == [1, 1]
    assert state(platform, following["id"])["version"] == 1 == state(platform, pinned["id"])["version"]
    assert source.queries[0].window_s == 900 and source.queries[0].until == t0 + timedelta(seconds=30)


def test_unknown_values_say_why_and_keep_a_firing_rule(platform: Platform, make_rule: Make) -> None:
    rule = make_rule()
    run, source = evaluator(platform, 0.9)
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    run.evaluate_due(t0)
    source.v = None
    run.evaluate_due(t0 + timedelta(seconds=30))
    found = state(platform, rule["id"])
    assert (found["state"], found["value"]) == ("firing", None)
    assert found["note"] == "no drift_score for version 1 in the window"
    other = Evaluator(platform, SignalRegistry())  # a server where no part provides the signal
    other.evaluate_due(t0 + timedelta(seconds=60))
    assert state(platform, rule["id"])["note"] == "no source of drift_score on this server"
    platform.store.delete_model("default", "press")
    run.evaluate_due(t0 + timedelta(seconds=90))
    found = state(platform, rule["id"])
    assert (found["state"], found["note"]) == ("firing", "model 'press' not found")


@pytest.fixture(params=BACKENDS)
def two_platforms(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Platform, Platform]]:
    """Two servers (own engines, own homes) on one registry database and one master key."""
    url = database_url(request, request.param, tmp_path) if request.param != "sqlite" else None
    first = prepare(alert_settings(tmp_path / "one", database_url=url or f"sqlite:///{tmp_path}/shared.db"))
    key = (tmp_path / "one" / "master.key").read_text().strip()
    secret = (tmp_path / "one" / "secret.key").read_text().strip()
    second = prepare(
        alert_settings(
            tmp_path / "two",
            database_url=first.settings.resolved_database_url,
            master_key=key,
            secret_key=secret,
        )
    )
    add_model(first)
    yield first, second
    first.close()
    second.close()


def test_two_evaluators_sharing_a_registry_fire_once(
    two_platforms: tuple[Platform, Platform], receiver: Receiver
) -> None:
    one, two = two_platforms
    rule = alerts.create_rule(one, ADMIN, {**DRIFT_RULE, "targets": [receiver.url()]})
    runs = [evaluator(one, 0.5)[0], evaluator(two, 0.5)[0]]
    at = datetime.now(UTC) + timedelta(seconds=1)
    due = one.store.due_alert_rules(at)
    ((found, before),) = due

    # Both read the same state; one takes the evaluation, then both race to write the transition:
    # the conditional update on the revision lets exactly one through.
    revision = one.store.claim_alert_evaluation(found.id, before.revision, at, at + timedelta(seconds=30))
    assert revision is not None
    assert two.store.claim_alert_evaluation(found.id, before.revision, at, at + timedelta(seconds=30)) is None
    made: list[str | None] = []
    barrier = threading.Barrier(2)

    def race(run: Evaluator) -> None:
        barrier.wait()
        made.append(run.evaluate(found, before, revision, at))

    threads = [threading.Thread(target=race, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made, key=str) == [None, "firing"]
    assert len(one.store.list_alert_deliveries("default", rule["id"])) == 1
    assert len(one.store.list_audit("default", action="alert.firing")) == 1

    # And whole rounds of both, at the same moments, as the servers run them.
    alerts.update_rule(one, ADMIN, rule["id"], {"bound": 0.6})  # now within the bound: resolves
    events: list[tuple[str, str]] = []
    for step in range(1, 4):
        moment = at + timedelta(seconds=30 * step)
        barrier = threading.Barrier(2)

        def round_of(run: Evaluator, when: datetime = moment, gate: threading.Barrier = barrier) -> None:
            gate.wait()
            events.extend(run.evaluate_due(when))

        threads = [threading.Thread(target=round_of, args=(run,)) for run in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert events == [(rule["id"], "resolved")]
    sent = one.store.list_alert_deliveries("default", rule["id"])
    assert sorted(d.event for d in sent) == ["firing", "resolved"]

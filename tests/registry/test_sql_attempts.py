"""Claims of jobs by id for engines that may run a task twice (Dask), on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from shopfloor.registry.sql import SqlStore

PAST = datetime(2000, 1, 1, tzinfo=UTC)  # no lease has expired before this


def _later(seconds: float = 60) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)  # every lease has expired before this


def test_a_queued_job_is_claimed_once_among_concurrent_runs(url: str, store: SqlStore) -> None:
    store.create_job(id="j1", tenant="a", type="train", params={})
    stores = [SqlStore(url) for _ in range(6)]
    got: list[int | None] = []
    start = threading.Barrier(len(stores))

    def run(s: SqlStore) -> None:
        start.wait()
        got.append(s.claim_attempt("j1", "w", lease_expired_before=PAST, max_attempts=2))

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.close()
    assert sorted(got, key=str) == [1] + [None] * 5
    job = store.get_job("a", "j1")
    assert job.status == "running" and job.attempts == 1
    assert store.queued_job_ids() == []


def test_a_lost_run_is_taken_over_once_then_the_job_fails(store: SqlStore) -> None:
    store.create_job(id="j1", tenant="a", type="train", params={})
    assert store.claim_attempt("j1", "h:1", lease_expired_before=PAST, max_attempts=2) == 1
    # a fresh lease: a second run does nothing
    assert store.claim_attempt("j1", "h:2", lease_expired_before=PAST, max_attempts=2) is None
    assert store.get_job("a", "j1").worker == "h:1"
    # the lease expired: the next attempt takes over, and the first run can no longer write
    assert store.claim_attempt("j1", "h:2", lease_expired_before=_later(), max_attempts=2) == 2
    assert store.renew_lease("j1", 1) is False
    assert store.finish_attempt("j1", 1, "failed", error="late") is False
    assert store.renew_lease("j1", 2) is True
    # the second run's worker dies too: no third run, a clear failure
    assert store.claim_attempt("j1", "h:3", lease_expired_before=_later(), max_attempts=2) is None
    job = store.get_job("a", "j1")
    assert job.status == "failed" and job.attempts == 2
    assert job.error is not None and "attempt 2 of 2" in job.error and "h:2" in job.error


def test_finished_and_cancelled_jobs_are_not_run(store: SqlStore) -> None:
    for job_id in ("done", "gone"):
        store.create_job(id=job_id, tenant="a", type="train", params={})
    assert store.claim_attempt("done", "w", lease_expired_before=PAST, max_attempts=2) == 1
    assert store.finish_attempt("done", 1, "succeeded", result={"ok": 1}) is True
    assert store.finish_attempt("done", 1, "failed") is False  # only once
    store.request_cancel("a", "gone")
    for job_id in ("done", "gone"):
        assert store.claim_attempt(job_id, "w", lease_expired_before=_later(), max_attempts=2) is None
    assert store.get_job("a", "done").status == "succeeded"
    assert store.get_job("a", "gone").status == "cancelled"
    assert store.claim_attempt("missing", "w", lease_expired_before=_later(), max_attempts=2) is None


def test_a_cancel_asked_of_a_lost_run_ends_the_job_cancelled(store: SqlStore) -> None:
    store.create_job(id="j1", tenant="a", type="train", params={})
    assert store.claim_attempt("j1", "h:1", lease_expired_before=PAST, max_attempts=2) == 1
    store.request_cancel("a", "j1")
    assert store.renew_lease("j1", 1) is False  # the run is told to stop
    assert store.claim_attempt("j1", "h:2", lease_expired_before=_later(), max_attempts=2) is None
    assert store.get_job("a", "j1").status == "cancelled"


def test_queued_jobs_oldest_first_and_local_claims_count_attempts(store: SqlStore) -> None:
    for job_id in ("j1", "j2", "j3"):
        store.create_job(id=job_id, tenant="a", type="train", params={})
    assert store.queued_job_ids() == ["j1", "j2", "j3"]
    job = store.claim_job("local:1")
    assert job is not None and job.attempts == 1
    assert store.queued_job_ids() == ["j2", "j3"]

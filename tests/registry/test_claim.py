"""Job claiming under contention and crash recovery with several servers on one registry, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shopfloor.jobs.runner import HOST, recover
from shopfloor.registry.sql import SqlStore
from shopfloor.settings import Settings

JOBS, WORKERS = 60, 8


def test_concurrent_claimers_never_take_the_same_job(url: str, store: SqlStore) -> None:
    for i in range(JOBS):
        store.create_job(id=f"j{i:03d}", tenant="a", type="train", params={})
    # One store (engine, connections) per worker, as separate server processes would have.
    stores = [SqlStore(url) for _ in range(WORKERS)]
    claims: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock, start = threading.Lock(), threading.Barrier(WORKERS)

    def work(n: int) -> None:
        worker = f"w{n}"
        start.wait()
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                job = stores[n].claim_job(worker)
                with lock:
                    if job is not None:
                        claims.append((job.id, worker))
                    if len(claims) >= JOBS:
                        return
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert not errors, errors
    ids = [job_id for job_id, _ in claims]
    assert len(ids) == len(set(ids)) == JOBS, "a job was claimed twice or not at all"
    assert store.claim_job("late") is None
    for job_id, worker in claims:  # the row names the one worker that got it
        job = store.get_job("a", job_id)
        assert job.status == "running" and job.worker == worker
    assert len({w for _, w in claims}) > 1, "the claims were not concurrent"


def test_concurrent_first_versions_of_a_new_model_all_land(url: str, store: SqlStore) -> None:
    stores = [SqlStore(url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    versions: list[int] = []

    def add(s: SqlStore) -> None:
        start.wait()
        v = s.add_version(
            tenant="a", model="new", task="tabular_classification", report={}, input_schema=[],
            files={}, artifact="p", lineage={}, job_id=None,
        )  # fmt: skip
        versions.append(v.version)

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.close()
    assert sorted(versions) == [1, 2, 3, 4]
    assert [v.version for v in store.list_versions("a", "new")] == [1, 2, 3, 4]


def test_claim_shares_the_runner_between_tenants(store: SqlStore) -> None:
    """Tenant A queued 5 jobs before tenant B queued 1: B's job runs second, not sixth."""
    store.ensure_tenant("b")
    for i in range(5):
        store.create_job(id=f"a{i}", tenant="a", type="train", params={})
        time.sleep(0.002)
    store.create_job(id="b0", tenant="b", type="train", params={})
    # One job slot: A's first job runs and ends; B, whose tenant never ran one, goes next.
    first = store.claim_job("w")
    assert first is not None and first.id == "a0"
    store.finish_job("a0", "succeeded", result={})
    second = store.claim_job("w")
    assert second is not None and second.id == "b0"
    # Then A's jobs in the order they were queued.
    store.finish_job("b0", "succeeded", result={})
    assert [getattr(store.claim_job("w"), "id", None) for _ in range(2)] == ["a1", "a2"]


def test_claim_prefers_the_tenant_with_fewest_running_jobs(store: SqlStore) -> None:
    store.ensure_tenant("b")
    for i in range(3):
        store.create_job(id=f"a{i}", tenant="a", type="train", params={})
        time.sleep(0.002)
    store.create_job(id="b0", tenant="b", type="train", params={})
    # Two job slots, A's first still running: B's job takes the second slot.
    assert [getattr(store.claim_job("w"), "id", None) for _ in range(2)] == ["a0", "b0"]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_recover_fails_only_dead_local_jobs_and_stale_heartbeats(store: SqlStore, tmp_path: Path) -> None:
    """A restarting server must not fail jobs that another live server, here or elsewhere, is running."""
    workers = {
        "mine-dead": f"{HOST}:{_dead_pid()}",  # this host, process gone: the restart's own orphan
        "mine-alive": f"{HOST}:{os.getpid()}",  # this host, another server's live job process
        "elsewhere": "other-host:1",  # another host, heartbeat fresh
    }
    for job_id, worker in workers.items():
        store.create_job(id=job_id, tenant="a", type="train", params={})
        claimed = store.claim_job(worker)
        assert claimed is not None and claimed.id == job_id
    assert recover(store, Settings(home=tmp_path, job_heartbeat_timeout_s=60)) == 1
    status = {j: store.get_job("a", j).status for j in workers}
    assert status == {"mine-dead": "failed", "mine-alive": "running", "elsewhere": "running"}
    # Once the other host stops sending heartbeats, its job is failed too (from any host).
    assert recover(store, Settings(home=tmp_path, job_heartbeat_timeout_s=0.001)) == 2


def test_servers_starting_together_migrate_once(request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("pg_database"))  # PostgreSQL only: SQLite has one writer anyway
    # Processes, not threads: Alembic's context is process-global.
    code = "import sys; from shopfloor.registry.migrate import upgrade; upgrade(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    s = SqlStore(url)
    try:
        assert s.ensure_tenant("a").id == "a"
    finally:
        s.close()

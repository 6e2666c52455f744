"""Quotas in the registry on both backends, under contention: shared rate counters (claim, read,
prune), the jobs quota checked with the insert, the storage quota checked with the dataset row."""

from __future__ import annotations

import threading

import pytest

from shopfloor.registry.sql import SqlStore


def test_claim_adds_within_the_ceiling_only(store: SqlStore) -> None:
    assert store.claim_rate("key:a", 100, 3, 5) == 3
    assert store.claim_rate("key:a", 100, 2, 5) == 5
    assert store.claim_rate("key:a", 100, 1, 5) is None  # full: nothing added
    assert store.claim_rate("key:a", 100, 1, 6) == 6  # a higher ceiling (the window moved on)
    assert store.claim_rate("key:b", 100, 7, 5) is None  # more than the ceiling at once
    assert store.claim_rate("key:a", 101, 1, 5) == 1  # a new window starts from zero
    assert store.rate_counts(["key:a", "key:b", "tenant:t"], 100) == {"key:a": 6}
    assert store.rate_counts([], 100) == {}


def test_claims_in_one_transaction_are_each_atomic(store: SqlStore) -> None:
    store.claim_rate("tenant:t", 100, 9, 10)
    # The key's claim holds although the tenant's, in the same transaction, is refused.
    assert store.claim_rates([("key:a", 100, 2, 5), ("tenant:t", 100, 2, 10), ("key:b", 100, 0, 5)]) == [
        2,
        None,
        None,
    ]
    assert store.rate_counts(["key:a", "tenant:t", "key:b"], 100) == {"key:a": 2, "tenant:t": 9}
    assert store.claim_rates([]) == []


def test_prune_drops_old_windows(store: SqlStore) -> None:
    for window in (7, 8, 9):
        store.claim_rate("key:a", window, 1, 10)
    assert store.prune_rate_windows(9) == 2
    assert store.rate_counts(["key:a"], 8) == {}
    assert store.rate_counts(["key:a"], 9) == {"key:a": 1}


def test_concurrent_claimers_never_pass_the_ceiling(url: str) -> None:
    # One store per thread, as separate processes would have; 8 x 20 attempts on a ceiling of 37.
    stores = [SqlStore(url) for _ in range(8)]
    granted: list[int] = []
    lock, start = threading.Lock(), threading.Barrier(len(stores))

    def work(s: SqlStore) -> None:
        start.wait()
        for _ in range(20):
            if s.claim_rate("tenant:t", 5, 2, 37) is not None:
                with lock:
                    granted.append(2)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert sum(granted) == 36  # 18 claims of 2 fit under 37, the 19th would not
    check = SqlStore(url)
    assert check.rate_counts(["tenant:t"], 5) == {"tenant:t": 36}
    check.close()


def test_jobs_quota_holds_under_concurrent_requests(url: str) -> None:
    """Eight servers queueing at once for a tenant allowed 3 jobs: exactly 3 get in."""
    from shopfloor.errors import RateLimited

    first = SqlStore(url)
    first.ensure_tenant("t")
    first.close()
    stores = [SqlStore(url) for _ in range(8)]
    made: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(len(stores))

    def work(n: int) -> None:
        start.wait()
        try:
            job = stores[n].create_job(id=f"j{n}", tenant="t", type="train", params={}, max_active=3)
            made.append(job.id)
        except RateLimited as exc:
            refused.append(exc.detail)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made) == 3 and len(refused) == 5
    assert "its limit is 3" in refused[0]
    assert stores[0].count_active_jobs("t") == 3
    for s in stores:
        s.close()


def test_dataset_within_the_storage_quota_only(store: SqlStore) -> None:
    from shopfloor.errors import StorageQuotaExceeded

    store.ensure_tenant("t")
    args = dict(tenant="t", name="d", rows=1, sha256="0" * 64, format="csv", columns=[], artifact="p")
    store.add_dataset(id="d1", size_bytes=600, max_storage_bytes=1000, **args)  # type: ignore[arg-type]
    with pytest.raises(StorageQuotaExceeded) as refused:
        store.add_dataset(id="d2", size_bytes=401, max_storage_bytes=1000, **args)  # type: ignore[arg-type]
    assert "would pass its quota of 1000 bytes" in refused.value.detail
    store.add_dataset(id="d3", size_bytes=400, max_storage_bytes=1000, **args)  # type: ignore[arg-type]
    assert store.storage_bytes("t") == 1000


def test_storage_counts_model_files_and_job_outputs(store: SqlStore) -> None:
    """The storage quota counts every byte a tenant keeps, not its datasets alone: model versions'
    files and what batch jobs store (input and scored result). Another tenant's bytes never count."""
    from shopfloor.errors import StorageQuotaExceeded

    for tenant in ("t", "other"):
        store.ensure_tenant(tenant)
    args = dict(name="d", rows=1, sha256="0" * 64, format="csv", columns=[], artifact="p")
    store.add_dataset(id="d1", tenant="t", size_bytes=100, **args)  # type: ignore[arg-type]
    store.add_dataset(id="d9", tenant="other", size_bytes=5000, **args)  # type: ignore[arg-type]
    version = dict(task="tabular_classification", report={}, input_schema=[], files={}, lineage={})
    store.add_version(tenant="t", model="m", artifact="a1", job_id=None, size_bytes=200, **version)  # type: ignore[arg-type]
    store.add_version(tenant="t", model="m", artifact="a2", job_id=None, size_bytes=300, **version)  # type: ignore[arg-type]
    store.create_job(id="j1", tenant="t", type="batch_predict", params={}, stored_bytes=40)
    store.add_job_bytes("j1", 60)
    assert store.storage_bytes("t") == 100 + 200 + 300 + 40 + 60
    assert store.storage_bytes("other") == 5000
    # a new dataset is checked against all of it
    with pytest.raises(StorageQuotaExceeded):
        store.add_dataset(id="d2", tenant="t", size_bytes=401, max_storage_bytes=1100, **args)  # type: ignore[arg-type]
    store.add_dataset(id="d3", tenant="t", size_bytes=400, max_storage_bytes=1100, **args)  # type: ignore[arg-type]

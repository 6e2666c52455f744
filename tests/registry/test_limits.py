"""The shared rate counters (claim, read, prune) on both backends, under contention."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgcluster import BACKENDS, database_url
from shopfloor.registry.migrate import upgrade
from shopfloor.registry.sql import SqlStore


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = database_url(request, request.param, tmp_path)
    upgrade(url)
    return url


@pytest.fixture()
def store(url: str) -> Iterator[SqlStore]:
    s = SqlStore(url)
    yield s
    s.close()


def test_claim_adds_within_the_ceiling_only(store: SqlStore) -> None:
    assert store.claim_rate("key:a", 100, 3, 5) == 3
    assert store.claim_rate("key:a", 100, 2, 5) == 5
    assert store.claim_rate("key:a", 100, 1, 5) is None  # full: nothing added
    assert store.claim_rate("key:a", 100, 1, 6) == 6  # a higher ceiling (the window moved on)
    assert store.claim_rate("key:b", 100, 7, 5) is None  # more than the ceiling at once
    assert store.claim_rate("key:a", 101, 1, 5) == 1  # a new window starts from zero
    assert store.rate_counts(["key:a", "key:b", "tenant:t"], 100) == {"key:a": 6}
    assert store.rate_counts([], 100) == {}


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

"""Key checks and the registry generation that invalidates every process's caches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgcluster import BACKENDS, database_url
from shopfloor.errors import NotAuthenticated, RegistryUnavailable
from shopfloor.registry.migrate import upgrade
from shopfloor.registry.sql import SqlStore
from shopfloor.security.keys import GENERATION_MAX_AGE_S, Generation, KeyChecker, issue_key

SECRET = b"s" * 32


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one registry: two servers (separate processes or hosts) sharing it."""
    url = database_url(request, request.param, tmp_path)
    upgrade(url)
    a, b = SqlStore(url), SqlStore(url)
    yield a, b
    a.close()
    b.close()


def test_a_change_through_one_server_reaches_the_other_within_the_max_age(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    a, b = stores
    mine, theirs = Generation(a), Generation(b)
    before = theirs.current()
    mine.bump()
    assert mine.current() != before  # this process sees its own change at once
    deadline = time.monotonic() + GENERATION_MAX_AGE_S + 0.2
    while theirs.current() == before:
        assert time.monotonic() < deadline, "the other process never saw the change"
        time.sleep(0.01)


def test_revoked_key_fails_on_another_server_within_a_second(stores: tuple[SqlStore, SqlStore]) -> None:
    a, b = stores
    new = issue_key(a, SECRET, tenant="t", role="consumer")
    checker = KeyChecker(b, SECRET, Generation(b))
    assert checker.principal(new.secret).tenant == "t"  # now cached on server b
    a.revoke_key("t", new.key.id)  # made through server a's store: b's caches hold the old row
    start = time.monotonic()
    while True:
        try:
            checker.principal(new.secret)
        except NotAuthenticated as exc:
            assert "revoked" in exc.detail
            break
        assert time.monotonic() - start < 1.0, "a revoked key still passed after 1 s"
        time.sleep(0.01)


class _Flaky:
    def __init__(self) -> None:
        self.value, self.down, self.reads = 3, False, 0

    def read_generation(self) -> int:
        self.reads += 1
        if self.down:
            raise RegistryUnavailable("down")
        return self.value


def test_reads_are_amortised_and_an_outage_keeps_the_last_value() -> None:
    store = _Flaky()
    gen = Generation(store, max_age_s=60)  # type: ignore[arg-type]
    assert [gen.current() for _ in range(1000)] == [(3, 0)] * 1000
    assert store.reads == 1
    gen = Generation(store, max_age_s=0)  # type: ignore[arg-type]
    assert gen.current() == (3, 0)
    store.down = True
    assert gen.current() == (3, 0)

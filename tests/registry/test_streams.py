"""Streaming state in the registry: atomic read-modify-write, bounded per model version; the
migrations build exactly the tables the ORM describes."""

from __future__ import annotations

import sqlite3
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shopfloor.registry.entities import Swap
from shopfloor.registry.orm import Base
from shopfloor.registry.sql import SqlStore
from shopfloor.registry.sqlite_nowait import CHECKPOINT_EVERY


def _append(states: dict[str, bytes], assets: list[str], point: bytes) -> tuple[int, dict[str, bytes]]:
    return len(states), {a: states.get(a, b"") + point for a in assets}


def test_states_accumulate_per_asset_and_version(store: SqlStore) -> None:
    both = ["a", "b"]
    seen = store.update_stream_states("t", "m", 1, both, lambda s: _append(s, both, b"1"), keep=10)
    assert seen == 0
    seen = store.update_stream_states("t", "m", 1, ["a"], lambda s: _append(s, ["a"], b"2"), keep=10)
    assert seen == 1
    store.update_stream_states("t", "m", 2, ["a"], lambda s: _append(s, ["a"], b"x"), keep=10)
    got = store.update_stream_states("t", "m", 1, ["a", "b"], lambda s: (s, {}), keep=10)
    assert got == {"a": b"12", "b": b"1"}
    assert store.list_stream_assets("t", "m", 2) == ["a"]
    assert store.list_stream_assets("other", "m", 1) == []


def test_a_failing_step_changes_nothing(store: SqlStore) -> None:
    store.update_stream_states("t", "m", 1, ["a"], lambda s: _append(s, ["a"], b"1"), keep=10)

    def boom(states: dict[str, bytes]) -> tuple[None, dict[str, bytes]]:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        store.update_stream_states("t", "m", 1, ["a"], boom, keep=10)
    assert store.update_stream_states("t", "m", 1, ["a"], lambda s: (s, {}), keep=10) == {"a": b"1"}


def test_least_recently_updated_assets_are_dropped_beyond_the_bound(store: SqlStore) -> None:
    for asset in ["a", "b", "c", "d"]:
        store.update_stream_states("t", "m", 1, [asset], lambda s, a=asset: _append(s, [a], b"."), keep=3)
    assert store.list_stream_assets("t", "m", 1) == ["b", "c", "d"]
    assert store.drop_stream_states("t", "m", "c") == 1
    assert store.drop_stream_states("t", "m") == 2
    assert store.list_stream_assets("t", "m", 1) == []


def test_migrations_match_the_orm(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_update_times_are_read_back_as_written(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast SQLite path writes ``updated_at`` in the format the ORM reads (a whole second too)."""
    from datetime import datetime

    from sqlalchemy import select

    from shopfloor.registry import sql_streams
    from shopfloor.registry.orm import StreamStateRow

    at = datetime(2026, 1, 2, 3, 4, 5)  # no microseconds: the driver's own format would drop them
    monkeypatch.setattr(sql_streams, "_now", lambda: at)
    store.update_stream_states("t", "m", 1, ["a"], lambda s: _append(s, ["a"], b"1"), keep=10)
    with store.engine.connect() as conn:
        assert conn.scalar(select(StreamStateRow.updated_at)) == at
        if store.engine.dialect.name == "sqlite":  # the text sorts with the ORM's own writes
            raw = conn.exec_driver_sql("SELECT updated_at FROM stream_states").scalar()
            assert raw == "2026-01-02 03:04:05.000000"


def _states(store: SqlStore, assets: list[str]) -> dict[str, bytes]:
    return store.update_stream_states("t", "m", 1, assets, lambda s: (dict(s), {}), keep=10)


def test_a_swap_writes_only_where_every_row_holds_what_is_expected(store: SqlStore) -> None:
    both = ["a", "b"]
    store.update_stream_states("t", "m", 1, both, lambda s: _append(s, both, b"1"), keep=10)
    assert store.swap_stream_states("t", "m", 1, {"a": (b"1", b"12"), "b": (b"1", b"13")}) is Swap.DONE
    assert _states(store, both) == {"a": b"12", "b": b"13"}
    # one row moved on meanwhile (another process): nothing is written, not even the other row
    assert store.swap_stream_states("t", "m", 1, {"a": (b"12", b"x"), "b": (b"1", b"y")}) is Swap.STALE
    assert _states(store, both) == {"a": b"12", "b": b"13"}
    # a row reset (gone) is stale too; a swap never adds one
    store.drop_stream_states("t", "m", "b")
    assert store.swap_stream_states("t", "m", 1, {"b": (b"13", b"z")}) is Swap.STALE
    assert _states(store, both) == {"a": b"12"}
    # the row of another version, model or tenant is another row
    assert store.swap_stream_states("t", "m", 2, {"a": (b"12", b"v")}) is Swap.STALE
    assert store.swap_stream_states("u", "m", 1, {"a": (b"12", b"v")}) is Swap.STALE
    assert _states(store, ["a"]) == {"a": b"12"}


def test_a_swap_that_must_not_wait(store: SqlStore) -> None:
    store.update_stream_states("t", "m", 1, ["a"], lambda s: _append(s, ["a"], b"1"), keep=10)
    outcome = store.swap_stream_states("t", "m", 1, {"a": (b"1", b"12")}, wait=False)
    if not store.swaps_without_waiting:  # PostgreSQL: every write may wait on the network
        assert store.engine.dialect.name != "sqlite"
        assert outcome is Swap.LATER
        assert _states(store, ["a"]) == {"a": b"1"}
        return
    assert outcome is Swap.DONE
    assert store.swap_stream_states("t", "m", 1, {"a": (b"1", b"x")}, wait=False) is Swap.STALE
    assert _states(store, ["a"]) == {"a": b"12"}


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)
def test_a_swap_that_must_not_wait_declines_while_another_holds_the_write_lock(store: SqlStore) -> None:
    store.update_stream_states("t", "m", 1, ["a", "b"], lambda s: _append(s, ["a", "b"], b"1"), keep=10)
    holder = sqlite3.connect(str(store.engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a job or another API process writing
    try:
        started = time.monotonic()
        for swaps in ({"a": (b"1", b"2")}, {"a": (b"1", b"2"), "b": (b"1", b"2")}):
            assert store.swap_stream_states("t", "m", 1, swaps, wait=False) is Swap.LATER
        assert time.monotonic() - started < 1  # declined at once (the busy timeout is 30 s)
    finally:
        holder.rollback()
        holder.close()
    assert _states(store, ["a", "b"]) == {"a": b"1", "b": b"1"}
    assert store.swap_stream_states("t", "m", 1, {"a": (b"1", b"2")}, wait=False) is Swap.DONE


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)
def test_writes_that_must_not_wait_leave_checkpoints_to_the_waiting_path(store: SqlStore) -> None:
    """The event loop's connection never checkpoints the write-ahead log (a sync to disk); every
    CHECKPOINT_EVERY-th write is declined so that a connection that may wait commits it, and that
    one checkpoints as SQLite does: the log stays near SQLite's own bound (1000 pages)."""
    state = b"0" * 3000

    def checkpoint(mode: str) -> int:
        with store.engine.connect() as conn:
            busy, logged, moved = conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})").one()
        assert busy == 0 and logged == moved
        return int(logged)

    def write(i: int) -> Swap:
        nonlocal state
        new = b"%08d" % i * 375  # 3000 bytes, as every state here
        outcome = store.swap_stream_states("t", "m", 1, {"a": (state, new)}, wait=False)
        if outcome is Swap.LATER:
            outcome = store.swap_stream_states("t", "m", 1, {"a": (state, new)})
        state = new
        return outcome

    store.update_stream_states("t", "m", 1, ["a"], lambda s: (None, {"a": state}), keep=10)
    checkpoint("TRUNCATE")
    assert write(0) is Swap.DONE
    frames = checkpoint("PASSIVE")  # pages one write logs
    writes = 8 * CHECKPOINT_EVERY
    assert writes * frames > 1000 + CHECKPOINT_EVERY * frames  # enough to need checkpoints
    assert [write(i) for i in range(1, writes + 1)] == [Swap.DONE] * writes
    assert _states(store, ["a"]) == {"a": state}
    assert checkpoint("PASSIVE") <= 1000 + CHECKPOINT_EVERY * frames

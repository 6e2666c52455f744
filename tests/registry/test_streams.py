"""Streaming state in the registry: atomic read-modify-write, bounded per model version; the
migrations build exactly the tables the ORM describes."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shopfloor.registry.orm import Base
from shopfloor.registry.sql import SqlStore


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

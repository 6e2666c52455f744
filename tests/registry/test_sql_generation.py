"""The registry generation: moved in the same transaction by every change that caches hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopfloor.errors import NotFound
from shopfloor.registry.entities import ApiKey, Quotas
from shopfloor.registry.sql import SqlStore


def test_read_and_bump(store: SqlStore) -> None:
    assert store.read_generation() == 0
    assert store.bump_generation() == 1
    assert store.bump_generation() == 2
    assert store.read_generation() == 2
    assert store.read_generation("other") == 0  # counters are independent


def test_every_cached_change_moves_it(store: SqlStore) -> None:
    key = store.add_key(ApiKey("key_1", "a", "admin", None, "h" * 64, datetime.now(UTC)))
    assert store.read_generation() == 0  # a new key is in no cache
    store.revoke_key("a", key.id)
    assert store.read_generation() == 1
    store.add_version(
        tenant="a", model="m", task="tabular_classification", report={}, input_schema=[],
        files={}, artifact="a/m/1", lineage={}, job_id=None,
    )  # fmt: skip
    store.set_alias("a", "m", "production", 1)
    assert store.read_generation() == 2
    store.set_quotas(Quotas("a", requests_per_minute=5))
    assert store.read_generation() == 3
    store.set_masking_policy("a", b"sealed")
    assert store.read_generation() == 4
    store.update_stream_states("a", "m", 1, ["press-1"], lambda old: (None, {"press-1": b"w"}), keep=10)
    assert store.list_stream_assets("a", "m", 1) == ["press-1"]
    gone = store.delete_model("a", "m")
    assert [(v.version, v.artifact, v.aliases) for v in gone] == [(1, "a/m/1", ("production",))]
    assert store.read_generation() == 5
    assert store.list_models("a") == [] and store.list_stream_assets("a", "m", 1) == []
    with pytest.raises(NotFound):
        store.resolve("a", "m", None)
    again = store.add_version(
        tenant="a", model="m", task="tabular_regression", report={}, input_schema=[],
        files={}, artifact="a/m/2", lineage={}, job_id=None,
    )  # fmt: skip
    assert again.version == 1 and again.aliases == ()  # a new model under the old name


def test_a_refused_change_does_not_move_it(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        store.revoke_key("a", "key_missing")
    with pytest.raises(NotFound):
        store.set_alias("a", "nope", "production", 1)
    with pytest.raises(NotFound):
        store.delete_model("a", "nope")
    assert store.read_generation() == 0

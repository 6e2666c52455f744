"""Challengers in the registry: the mode beside the ``challenger`` alias, set and promoted in one
transaction each with the generation moved, refused when the caller's view is stale (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.log_entities import LogBatch, LogBlob
from shopfloor.registry.sql import SqlStore


def _versions(store: SqlStore, n: int = 3, tenant: str = "a", model: str = "m") -> None:
    for i in range(n):
        store.add_version(
            tenant=tenant, model=model, task="tabular_classification", report={}, input_schema=[], files={},
            artifact=f"{tenant}/models/{model}/v{i}", lineage={}, job_id=None,
        )
    store.set_alias(tenant, model, "production", 1)


def test_a_mode_needs_a_challenger_other_than_production(store: SqlStore) -> None:
    _versions(store)
    with pytest.raises(Conflict, match="no challenger"):
        store.set_challenger("a", "m", "shadow", 0.0)
    with pytest.raises(Conflict, match="production version itself"):
        store.set_challenger("a", "m", "shadow", 0.0, version=1)
    with pytest.raises(NotFound, match="no version 9"):
        store.set_challenger("a", "m", "shadow", 0.0, version=9)
    # nothing of the refused calls stayed: no alias, no mode
    assert store.get_challenger("a", "m").challenger is None
    assert store.challenger_modes("a") == {}


def test_set_points_the_alias_and_moves_the_generation(store: SqlStore) -> None:
    _versions(store)
    before = store.read_generation()
    found = store.set_challenger("a", "m", "canary", 0.25, version=2, by="key_1")
    assert (found.mode, found.share, found.champion, found.challenger) == ("canary", 0.25, 1, 2)
    assert found.updated_by == "key_1" and found.updated_at is not None and found.updated_at.tzinfo
    assert store.read_generation() == before + 1
    assert store.challenger_modes("a") == {"m": ("canary", 0.25)}
    assert store.challenger_modes("b") == {}
    assert store.resolve("a", "m", None, alias="challenger").version == 2
    store.set_challenger("a", "m", "shadow", 0.0)  # the alias stays where it is
    assert store.challenger_modes("a") == {"m": ("shadow", 0.0)}
    off = store.set_challenger("a", "m", "off", 0.0)
    assert (off.mode, off.challenger, off.updated_at) == ("off", 2, None)
    assert store.challenger_modes("a") == {}


def test_another_tenant_cannot_see_or_change_it(store: SqlStore) -> None:
    _versions(store)
    store.set_challenger("a", "m", "shadow", 0.0, version=2)
    for call in (
        lambda: store.get_challenger("b", "m"),
        lambda: store.set_challenger("b", "m", "off", 0.0),
        lambda: store.promote_challenger("b", "m", 2),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.challenger_modes("a") == {"m": ("shadow", 0.0)}


def test_promotion_moves_production_and_clears_the_challenger(store: SqlStore) -> None:
    _versions(store)
    store.set_challenger("a", "m", "shadow", 0.0, version=3)
    before = store.read_generation()
    assert store.promote_challenger("a", "m", 3, champion=1) == (1, 3)
    assert store.read_generation() == before + 1
    after = store.get_challenger("a", "m")
    assert (after.mode, after.champion, after.challenger) == ("off", 3, None)
    assert store.get_model("a", "m").aliases == {"production": 3}
    with pytest.raises(Conflict, match="no challenger"):
        store.promote_challenger("a", "m", 3)


def test_promotion_refused_when_either_side_changed(store: SqlStore) -> None:
    _versions(store)
    store.set_challenger("a", "m", "canary", 0.5, version=2)
    store.set_alias("a", "m", "challenger", 3)  # someone else picked another challenger meanwhile
    with pytest.raises(Conflict, match="now version 3, not version 2"):
        store.promote_challenger("a", "m", 2)
    with pytest.raises(Conflict, match="production of model 'm' is now version 1, not version 2"):
        store.promote_challenger("a", "m", 3, champion=2)
    unchanged = store.get_challenger("a", "m")
    assert (unchanged.mode, unchanged.champion, unchanged.challenger) == ("canary", 1, 3)


def test_deleting_the_model_removes_its_mode(store: SqlStore) -> None:
    _versions(store)
    store.set_challenger("a", "m", "shadow", 0.0, version=2)
    store.delete_model("a", "m")
    assert store.challenger_modes("a") == {}
    _versions(store)  # made again under its name: off, no challenger
    assert store.get_challenger("a", "m").challenger is None


def test_logged_sources_of_the_comparison_fit_and_filter(store: SqlStore) -> None:
    at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    sources = ["champion:served", "challenger:shadow", "predict"]
    blob = LogBlob("b00000a1", "a", "m", 1, at, at, 3, b"x")
    store.add_prediction_log([LogBatch(blob, ["r"] * 3, [0] * 3, sources, [at] * 3)])
    found = store.list_logged("a", "m", sources=["champion:served", "challenger:shadow"])
    assert [r.source for r in found] == ["champion:served", "challenger:shadow"]
    assert len(store.list_logged("a", "m")) == 3

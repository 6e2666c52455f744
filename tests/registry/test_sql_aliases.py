"""Moving an alias only from the version it is known to point at (compare and set)."""

from __future__ import annotations

import threading

import pytest

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.sql import SqlStore


def _versions(store: SqlStore, n: int, tenant: str = "a", model: str = "m") -> None:
    for _ in range(n):
        store.add_version(
            tenant=tenant,
            model=model,
            task="tabular_classification",
            report={},
            input_schema=[],
            files={"f": "0" * 64},
            artifact="p",
            lineage={},
            job_id=None,
        )


def test_the_alias_moves_only_from_the_expected_version(store: SqlStore) -> None:
    _versions(store, 3)
    before = store.read_generation()
    assert store.set_alias_if("a", "m", "production", 1, None).version == 1  # the first promotion
    assert store.read_generation() == before + 1
    with pytest.raises(Conflict) as refused:
        store.set_alias_if("a", "m", "production", 2, None)  # there is one now
    assert "points at version 1, not no version" in refused.value.detail
    assert store.set_alias_if("a", "m", "production", 2, 1).aliases == ("production",)
    with pytest.raises(Conflict) as moved:
        store.set_alias_if("a", "m", "production", 3, 1)  # someone moved it to 2 meanwhile
    assert "points at version 2, not version 1" in moved.value.detail
    assert moved.value.errors == [{"loc": ["body", "expected"], "msg": "production is at version 2"}]
    assert store.get_model("a", "m").aliases == {"production": 2}
    with pytest.raises(NotFound):
        store.set_alias_if("a", "m", "production", 9, 2)
    with pytest.raises(NotFound):
        store.set_alias_if("b", "m", "production", 1, 2)  # another tenant's model
    assert store.get_model("a", "m").aliases == {"production": 2}


def test_of_two_concurrent_moves_from_the_same_version_one_wins(store: SqlStore) -> None:
    _versions(store, 3)
    store.set_alias("a", "m", "production", 1)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def move(version: int) -> None:
        start.wait()
        try:
            store.set_alias_if("a", "m", "production", version, 1)
            outcomes.append(f"moved to {version}")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=move, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "refused" and len(outcomes) == 2, outcomes
    winner = int(next(o for o in outcomes if o.startswith("moved")).split()[-1])
    assert store.get_model("a", "m").aliases == {"production": winner}

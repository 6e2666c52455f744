"""The registry protocol splits by aggregate: :class:`Store` is their union and adds only ``close``,
no method sits in two aggregates, and the SQL store implements every one."""

from __future__ import annotations

import inspect
from typing import Protocol

from shopfloor.registry import store as registry
from shopfloor.registry.sql import SqlStore

AGGREGATES = (
    registry.KeyStore,
    registry.AccessKeyStore,
    registry.LookoutDataStore,
    registry.DataKeyStore,
    registry.MaskingStore,
    registry.DatasetStore,
    registry.ModelStore,
    registry.JobStore,
    registry.QuotaStore,
    registry.RateStore,
    registry.GenerationStore,
    registry.AuditStore,
    registry.StreamStore,
    registry.PredictionLogStore,
    registry.AlertStore,
    registry.ChallengerStore,
    registry.SourceStore,
    registry.AzureMultivariateStore,
    registry.LookoutModelStore,
    registry.HealthStore,
)


def _methods(protocol: type) -> set[str]:
    return {name for name, value in vars(protocol).items() if inspect.isfunction(value) and name[0] != "_"}


def test_store_is_the_union_of_the_aggregates() -> None:
    assert set(registry.Store.__bases__) - {Protocol} == set(AGGREGATES)
    assert _methods(registry.Store) == {"close"}


def test_each_method_belongs_to_one_aggregate() -> None:
    seen: dict[str, str] = {}
    for aggregate in AGGREGATES:
        for name in _methods(aggregate):
            assert name not in seen, f"{name} is in {seen[name]} and {aggregate.__name__}"
            seen[name] = aggregate.__name__
    assert len(seen) > 40


def test_the_sql_store_implements_every_aggregate() -> None:
    for aggregate in AGGREGATES:
        missing = sorted(name for name in _methods(aggregate) if not callable(getattr(SqlStore, name, None)))
        assert not missing, (aggregate.__name__, missing)

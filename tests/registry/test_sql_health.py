"""What readiness asks of the registry, on both backends: a trivial query and the schema revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.errors import RegistryUnavailable
from shopfloor.registry.migrate import code_head
from shopfloor.registry.sql import SqlStore


def test_ping_and_revision_at_head(store: SqlStore) -> None:
    store.ping()
    assert store.schema_revision() == code_head()
    assert (
        code_head()
        == sorted(
            p.name for p in Path(__file__).parents[2].glob("src/shopfloor/registry/migrations/versions/0*.py")
        )[-1][:4]
    )


def test_a_database_before_its_first_migration_has_no_revision(tmp_path: Path) -> None:
    fresh = SqlStore(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        fresh.ping()
        assert fresh.schema_revision() is None
    finally:
        fresh.close()


def test_an_unreachable_database_is_a_registry_error(tmp_path: Path) -> None:
    gone = SqlStore(f"sqlite:///{tmp_path / 'no-such-folder' / 'registry.db'}")
    try:
        with pytest.raises(RegistryUnavailable):
            gone.ping()
        with pytest.raises(RegistryUnavailable):
            gone.schema_revision()
    finally:
        gone.close()

"""The registry suites run on SQLite and on a throw-away PostgreSQL database, migrated to head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pgcluster import BACKENDS, database_url
from shopfloor.registry.migrate import upgrade
from shopfloor.registry.sql import SqlStore


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh registry database at the migration head, once per backend."""
    found = database_url(request, request.param, tmp_path)
    upgrade(found)
    return found


@pytest.fixture()
def store(url: str) -> Iterator[SqlStore]:
    """A store on ``url`` with the tenants ``a`` and ``b``."""
    s = SqlStore(url)
    s.ensure_tenant("a")
    s.ensure_tenant("b")
    yield s
    s.close()

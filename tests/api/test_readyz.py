"""GET /readyz: the registry, the artifact store and the schema revision, without a key; 503 names
what failed. /healthz stays liveness only."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from conftest import Api
from shopfloor.registry.migrate import code_head


def _ready(api: Api) -> Any:
    response = api.client.get("/readyz")  # no Authorization header: public, like /healthz
    assert response.headers["content-type"].startswith("application/json")
    return response


def test_ready_when_every_check_passes(api: Api) -> None:
    response = _ready(api)
    assert response.status_code == 200, response.text
    assert "retry-after" not in response.headers
    body = response.json()
    assert body["status"] == "ready" and body["failed"] == []
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "artifacts": "ok",
        "migrations": "ok",
    }
    assert body["checks"]["migrations"]["detail"] == f"database at {code_head()}, code at {code_head()}"
    # the local probe wrote, read and removed its file
    assert [p.name for p in (api.settings.home / "artifacts").iterdir() if p.name.startswith(".probe")] == []


def _set_revision(api: Api, revision: str | None) -> None:
    with api.platform.store.engine.begin() as conn:  # type: ignore[attr-defined]
        if revision is None:
            conn.execute(sa.text("DELETE FROM alembic_version"))
        else:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


@pytest.mark.parametrize(("revision", "found"), [("0006", "0006"), (None, "no revision")])
def test_a_schema_behind_the_code_is_not_ready(api: Api, revision: str | None, found: str) -> None:
    _set_revision(api, revision)
    response = _ready(api)
    assert response.status_code == 503 and response.headers["retry-after"]
    body = response.json()
    assert body["status"] == "not-ready" and body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == {
        "status": "fail",
        "error": "schema-mismatch",
        "detail": f"database at {found}, code at {code_head()}",
    }
    assert api.client.get("/healthz").status_code == 200  # alive: a restart would not help


def test_an_artifact_directory_that_cannot_be_written_is_not_ready(api: Api) -> None:
    artifacts = api.settings.home / "artifacts"
    shutil.rmtree(artifacts)
    artifacts.write_text("a file where the directory should be")
    body = _ready(api).json()
    assert body["failed"] == ["artifacts"]
    assert body["checks"]["artifacts"] == {"status": "fail", "error": "store-unavailable", "detail": None}
    assert "directory" not in str(body)  # the detail is logged, not shown to anyone who asks
    artifacts.unlink()
    artifacts.mkdir()
    assert _ready(api).status_code == 200  # back without a restart


def test_an_unreachable_registry_is_not_ready(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    gone = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'registry.db'}")
    monkeypatch.setattr(api.platform.store, "_sessions", sessionmaker(gone))
    response = _ready(api)
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database", "migrations"]
    assert body["checks"]["database"] == {"status": "fail", "error": "registry-unavailable", "detail": None}
    monkeypatch.undo()
    assert _ready(api).status_code == 200

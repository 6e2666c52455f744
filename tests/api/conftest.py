"""API tests go through create_app() with an isolated home directory; jobs run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pgcluster import BACKENDS, database_url
from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.jobs.runner import execute
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings
from zoo import Member, build_zoo


@dataclass
class Api:
    client: TestClient
    platform: Platform
    settings: Settings
    keys: dict[str, str]

    def headers(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def run_jobs(self) -> None:
        """Run every queued job to completion in this process (the server uses a runner process)."""
        while (job := self.platform.store.claim_job("test:0")) is not None:
            execute(self.settings, job.id)

    def files_under(self, *parts: str) -> list[Path]:
        root = self.settings.home.joinpath("artifacts", *parts)
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []

    def scratch_files(self) -> list[Path]:
        return [p for p in (self.settings.home / "tmp").rglob("*") if p.is_file()]


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        home=tmp_path / "home",
        # SQLite: the default file under home, as a real install has it.
        database_url=None if request.param == "sqlite" else database_url(request, request.param, tmp_path),
        max_upload_mb=1.0,
        max_records_per_request=50,
        default_time_budget_s=20,
    )
    yield from open_api(settings)


def open_api(settings: Settings) -> Iterator[Api]:
    """An app on ``settings`` with an admin, builder and consumer key of tenant "default" and an
    admin key of tenant "other"; closed when the generator ends."""
    platform = prepare(settings)
    keys = {}
    for who, tenant, role in [
        ("admin", "default", "admin"),
        ("builder", "default", "builder"),
        ("consumer", "default", "consumer"),
        ("metrics", "default", "metrics"),
        ("other", "other", "admin"),
    ]:
        keys[who] = issue_key(platform.store, platform.secret, tenant=tenant, role=role).secret
    app = create_app(settings, platform)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, platform, settings, keys)
    platform.close()


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, Member]]]:
    """One trained model of every task family (tests/zoo.py), built once per test session."""
    settings = Settings(
        home=tmp_path_factory.mktemp("zoo") / "home",
        max_upload_mb=1.0,
        max_records_per_request=50,
        default_time_budget_s=20,
    )
    for api in open_api(settings):
        yield api, build_zoo(api)

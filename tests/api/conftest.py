"""API tests go through create_app() with an isolated home directory; jobs run in-process.

The ``api`` fixture runs on SQLite; a test or module whose behaviour differs by registry backend
(rate limits and quotas shared by processes, stream state) asks for PostgreSQL as well with
``@pytest.mark.backends("sqlite", "postgresql")``. The registry itself runs on both backends in
tests/registry.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import threshold_family
from alert_fixtures import add_model, alert_settings
from pgcluster import BACKENDS, database_url
from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.client import Client
from shopfloor.context import Platform
from shopfloor.jobs.runner import execute
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings
from webhook_receiver import Receiver, webhook_receiver
from zoo import Member, build_zoo


@dataclass
class Api:
    client: TestClient
    platform: Platform
    settings: Settings
    keys: dict[str, str]
    made: Any = None  # what the build function of ``api_with`` returned

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

    def sdk(self, who: str = "builder", *, run_jobs: bool = False) -> Client:
        """The SDK on this in-process app with ``who``'s key; ``run_jobs``: the queued jobs run after
        each request (the server has a runner)."""

        def forward(request: httpx.Request) -> httpx.Response:
            answer = self.client.request(
                request.method,
                request.url.path,
                params=dict(request.url.params),
                content=request.read(),
                headers={k: v for k, v in request.headers.items() if k not in ("host", "content-length")},
            )
            if run_jobs:
                self.run_jobs()
            dropped = ("content-encoding", "content-length")
            headers = {k: v for k, v in answer.headers.items() if k not in dropped}
            return httpx.Response(answer.status_code, headers=headers, content=answer.content)

        return Client("http://testserver", self.keys[who], transport=httpx.MockTransport(forward))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        backends = list(marker.args) if marker else ["sqlite"]
        assert set(backends) <= set(BACKENDS), backends
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture()
def backend(request: pytest.FixtureRequest) -> str:
    """The registry backend of this test: "sqlite" unless the test is marked with ``backends``."""
    return str(request.param)


def api_settings(home: Path, url: str | None = None, **more: Any) -> Settings:
    fields: dict[str, Any] = {
        "home": home,
        # SQLite: the default file under home, as a real install has it.
        "database_url": url,
        "max_upload_mb": 1.0,
        "max_records_per_request": 50,
        "default_time_budget_s": 20,
    }
    return Settings(**{**fields, **more})


@pytest.fixture()
def api(request: pytest.FixtureRequest, backend: str, tmp_path: Path, homes: Homes) -> Iterator[Api]:
    if backend == "sqlite":
        # A copy of a home migrated and given its keys once per run: as fresh, without the second
        # of migrations and key hashing per test (migrations run on both backends in tests/registry).
        yield from homes.open_copy(_fresh, tmp_path / "home")
    else:
        yield from open_api(api_settings(tmp_path / "home", database_url(request, backend, tmp_path)))


Build = Callable[[Api], Any]


def _fresh(api: Api) -> None:
    """A build that adds nothing: the home as open_api leaves it."""


class Homes:
    """Homes made once per run by a build function (train models, upload data) through the API,
    copied into each test that asks for one."""

    # Runtime state of the processes that used the home (metrics files per pid, scratch space):
    # a copy starts without it, as a home does when its server starts.
    RUNTIME = ("run", "tmp")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, tuple[Path, dict[str, str], Any]] = {}

    def get(self, build: Build) -> tuple[Path, dict[str, str], Any]:
        """The home ``build`` made on SQLite, the keys it holds and what ``build`` returned; made on
        the first call."""
        name = f"{build.__module__}.{build.__qualname__}"
        if name not in self.made:
            settings = api_settings(self.root / name / "home")
            for api in open_api(settings):
                self.made[name] = (settings.home, api.keys, build(api))
        return self.made[name]

    def open_copy(self, build: Build, home: Path, **settings: Any) -> Iterator[Api]:
        """An app on a copy, at ``home``, of the home ``build`` made (``settings``: fields that
        differ from the tests' usual ones); closed when the generator ends."""
        source, keys, made = self.get(build)
        ignore = lambda folder, names: [n for n in names if folder == str(source) and n in self.RUNTIME]  # noqa: E731
        shutil.copytree(source, home, symlinks=True, ignore=ignore)
        for api in open_api(api_settings(home, **settings), keys=keys):
            api.made = made
            yield api


@pytest.fixture(scope="session")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Homes:
    return Homes(tmp_path_factory.mktemp("homes"))


@pytest.fixture()
def api_with(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, homes: Homes
) -> Callable[[Build], Api]:
    """``api_with(build)``: this test's app, holding what ``build(api)`` made (trained models...);
    ``api.made`` is what ``build`` returned.

    On SQLite ``build`` runs once per test run and each test gets a copy of that home (its registry
    file, artifacts and server secret), so it may change its copy freely; on PostgreSQL ``build``
    runs in the test's own database.
    """

    def make(build: Build) -> Api:
        if backend != "sqlite":
            api: Api = request.getfixturevalue("api")
            api.made = build(api)
            return api
        opened = homes.open_copy(build, tmp_path / "home")
        api = next(opened)
        request.addfinalizer(lambda: next(opened, None))
        return api

    return make


def open_api(settings: Settings, keys: dict[str, str] | None = None) -> Iterator[Api]:
    """An app on ``settings`` with an admin, builder and consumer key of tenant "default" and an
    admin key of tenant "other" (``keys``: those already in the registry); closed when the
    generator ends."""
    platform = prepare(settings)
    if keys is None:
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
        yield Api(client, platform, settings, dict(keys))
    platform.close()


@pytest.fixture()
def threshold_models(api_with: Callable[[Build], Api]) -> Iterator[Api]:
    """An app holding the models of tests/threshold_family.py (answers known in advance), with the
    family known to the catalog for the test's duration."""
    for _ in threshold_family.registered():
        yield api_with(threshold_family.build_models)


def another_app(api: Api, **settings: Any) -> Iterator[Api]:
    """A second app on ``api``'s registry, artifacts and keys, as another API process (or host) of the
    same installation has it, with ``settings`` changed; closed when the generator ends."""
    yield from open_api(api.settings.model_copy(update=settings), keys=api.keys)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (tests/webhook_receiver.py)."""
    with webhook_receiver() as found:
        yield found


@pytest.fixture()
def alert_api(tmp_path: Path) -> Iterator[Api]:
    """An app whose background task evaluates every 0.2 s and delivers every 0.05 s; webhooks may
    go to 127.0.0.1 only; model ``press`` in tenant default, ``press`` in tenant other too."""
    settings = alert_settings(tmp_path / "home", alert_eval_interval_s=0.2, alert_delivery_poll_s=0.05)
    for api in open_api(settings):
        add_model(api.platform)
        add_model(api.platform, tenant="other")
        yield api


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, Member]]]:
    """One trained model of every task family (tests/zoo.py), built once per test session."""
    settings = api_settings(tmp_path_factory.mktemp("zoo") / "home")
    for api in open_api(settings):
        yield api, build_zoo(api)

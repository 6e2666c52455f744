"""A real server with its keys, and Debian's Chromium driven by Playwright (the browser tests' fixtures)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from chromium import FLAGS, ensure_installed  # noqa: E402
from server import Server  # noqa: E402

from shopfloor import Client  # noqa: E402


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for one test module. Playwright's synchronous API runs an event loop in this thread
    while it is started, so it must stop before the tests that call ``asyncio.run`` come."""
    from playwright.sync_api import sync_playwright

    executable = ensure_installed()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(executable), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("console") / "home").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, str]:
    """An admin, builder and consumer key of tenant "default" and an admin of tenant "other"."""
    admin = server.admin_key()
    assert admin
    made = {"admin": admin}
    with Client(server.url, admin) as client:
        for role in ("builder", "consumer"):
            made[role] = client.create_key(role)["secret"]
    return made


@pytest.fixture()
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context and page; dialogs (confirmations) are accepted and recorded in
    ``page.dialogs``."""
    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.dialogs = dialogs
    yield page
    context.close()

"""The alert pages in a real browser against a real server whose webhooks may go to 127.0.0.1: a
rule made through the form, its webhook secret seen once, a test webhook sent to a local receiver
(signed with that secret) and its delivery listed on the rule's page; axe-core on each page."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from pages import axe as _axe  # noqa: E402
from pages import sign_in as _sign_in  # noqa: E402
from server import Server  # noqa: E402

from alert_fixtures import add_model  # noqa: E402
from shopfloor.bootstrap import prepare  # noqa: E402
from shopfloor.security.signatures import verify_webhook  # noqa: E402
from shopfloor.settings import Settings  # noqa: E402
from webhook_receiver import Receiver, webhook_receiver  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose home holds model ``press`` (a registry entry is all a rule needs), sending
    webhooks to 127.0.0.1 only and looking for them every 0.1 s."""
    home = tmp_path_factory.mktemp("alerts") / "home"
    platform = prepare(Settings(home=home))
    try:
        add_model(platform)
    finally:
        platform.close()
    env = {"SHOPFLOOR_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]', "SHOPFLOOR_ALERT_DELIVERY_POLL_S": "0.1"}
    srv = Server(home, **env).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def test_a_rule_its_secret_once_and_a_test_webhook_delivered(
    browser_page: Any, alert_server: Server, receiver: Receiver
) -> None:
    page, server = browser_page, alert_server
    key = server.admin_key()
    assert key
    _sign_in(page, server, key)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    page.wait_for_url(re.compile(r".*/alerts$"))
    _axe(page)
    page.get_by_role("link", name="New alert rule").click()
    _axe(page)
    page.get_by_label("Rule name").fill("press-errors")
    page.get_by_label("Model", exact=True).select_option("press")
    page.get_by_label("Signal").select_option("error_rate")
    page.get_by_label("Fires when the value is").select_option(">")
    page.get_by_label("Bound").fill("0.2")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_label(re.compile("^Webhook URLs")).fill(receiver.url())
    page.get_by_role("button", name="Create rule").click()

    secret = page.locator("#secret").input_value()
    assert secret.startswith("whsec_") and page.get_by_text("only time it is shown").count() == 1
    _axe(page)
    page.get_by_role("link", name="All alert rules").click()
    row = page.get_by_role("row", name=re.compile("press-errors"))
    assert row.get_by_text("no data").count() == 1 and row.get_by_text("critical").count() == 1
    row.get_by_role("link", name="press-errors").click()
    page.wait_for_url(re.compile(r".*/alerts/alr_.*"))
    assert page.locator("#secret").count() == 0 and secret not in page.content()  # once only

    page.get_by_role("button", name="Send a test webhook").click()
    assert receiver.arrived.wait(15), "no webhook reached the receiver"
    got = receiver.received[0]
    assert verify_webhook(secret, got.body, got.headers["shopfloor-signature"])
    assert b'"event":"test"' in got.body
    deadline = time.monotonic() + 15
    delivered = page.get_by_role("row", name=re.compile(r"test .*delivered"))
    while delivered.count() == 0 and time.monotonic() < deadline:  # its outcome is recorded just after
        page.wait_for_timeout(200)
        page.reload()
    assert delivered.count() == 1 and delivered.get_by_text("HTTP 200").count() == 1
    assert delivered.get_by_text(f"127.0.0.1:{receiver.port}").count() == 1
    _axe(page)

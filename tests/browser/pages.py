"""What every browser test does: sign in through the form, and run axe-core on the page."""

from __future__ import annotations

import re
from typing import Any


def axe(page: Any) -> None:
    """axe-core on the page as it is now: no serious or critical finding."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"


def sign_in(page: Any, server: Any, key: str) -> None:
    """Sign ``page`` in with ``key`` through the sign-in form (signing out any session first)."""
    page.context.clear_cookies()
    page.goto(server.url + "/")
    assert "/signin" in page.url
    axe(page)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(server.url) + "/$"))

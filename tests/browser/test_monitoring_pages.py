"""A deployed model watched in a real browser: from the model page to its log and live performance (the
sampling rate changed through the form), drift, the challenger, and a retraining started from the
console that lands on its job page; axe-core on each page."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from shopfloor import Client
from shopfloor.errors import NotFound

sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from pages import axe as _axe  # noqa: E402
from pages import sign_in as _sign_in  # noqa: E402
from server import Server  # noqa: E402

import ai4i_like  # noqa: E402

pytestmark = pytest.mark.e2e
MODEL = "mill"


@pytest.fixture(scope="module")
def watched(server: Server, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """``mill`` trained with a small budget, logging every prediction, 120 predictions with outcomes
    for 80 of them; returns the id of a dataset to retrain on."""
    tmp = tmp_path_factory.mktemp("watched")
    ai4i_like.table(600, seed=1).to_csv(tmp / "before.csv", index=False)
    ai4i_like.table(300, seed=2, process="after").to_csv(tmp / "after.csv", index=False)
    with Client(server.url, keys["builder"]) as client:
        ds = client.upload_dataset(tmp / "before.csv")
        job = client.train(ds["id"], ai4i_like.TARGET, MODEL, exclude=ai4i_like.EXCLUDE, time_budget_s=3)
        assert client.wait(job["id"], timeout=300)["status"] == "succeeded"
        client.set_alias(MODEL, "production", 1)
        client.set_log_rate(MODEL, 1.0)
        rows = ai4i_like.table(120, seed=3)
        records = rows.drop(columns=[*ai4i_like.EXCLUDE, ai4i_like.TARGET]).to_dict("records")
        truth = rows[ai4i_like.TARGET].tolist()
        client.predict(MODEL, records, request_id="line-1")
        items = [{"request_id": "line-1", "index": i, "outcome": int(truth[i])} for i in range(80)]
        for _ in range(40):  # the server writes its log about once a second
            try:
                client.send_feedback(MODEL, items)
                break
            except NotFound:
                time.sleep(0.25)
        else:
            pytest.fail("the predictions were never logged")
        return str(client.upload_dataset(tmp / "after.csv")["id"])


def test_a_builder_watches_a_model_and_starts_a_retraining(
    browser_page: Any, server: Server, keys: dict[str, str], watched: str
) -> None:
    page = browser_page
    _sign_in(page, server, keys["builder"])
    page.goto(f"{server.url}/models/{MODEL}")
    page.get_by_role("link", name="Monitoring").click()
    page.get_by_role("heading", name="Live performance").wait_for()
    _axe(page)
    # the log is flushed about once a second: the figures come on a reload
    for _ in range(20):
        if page.get_by_role("table").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    table = page.get_by_role("table").first
    assert "f1 (realised)" in table.inner_text()
    assert page.get_by_role("img", name=re.compile("Chart of")).count() == 1
    page.get_by_label("Share of predictions to log (0 to 1)").fill("0.5")
    page.get_by_role("button", name="Set the rate").click()
    page.get_by_text("about 50.0 % of predictions are logged").wait_for()
    # a wrong rate is refused with the field named, and changes nothing
    page.get_by_label("Share of predictions to log (0 to 1)").fill("2")
    page.get_by_role("button", name="Set the rate").click()
    page.get_by_text(re.compile("the sampling rate is not valid")).first.wait_for()
    page.go_back()
    tabs = page.get_by_role("navigation", name=f"Monitoring of {MODEL}")
    tabs.get_by_role("link", name="Logged predictions").click()
    page.get_by_role("table", name=f"Logged predictions of {MODEL}").wait_for()
    _axe(page)
    for tab in ("Drift", "Challenger", "Retraining"):
        if tab == "Retraining":
            assert page.get_by_text("No comparison:").count() == 1  # no challenger yet: one line
        tabs.get_by_role("link", name=tab).click()
        page.wait_for_load_state()
        _axe(page)
    page.get_by_label("Dataset").select_option(watched)
    page.get_by_role("button", name="Start retraining").click()
    page.wait_for_url(re.compile(r".*/jobs/job_[0-9a-f]+$"))
    assert page.get_by_text("retrain").count() >= 1

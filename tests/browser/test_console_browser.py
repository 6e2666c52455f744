"""The console in a real browser (Debian's Chromium through Playwright) against a real server: the
AI4I path from upload to a downloaded batch result, each role, CSRF, tenants, user text as text
under a Content-Security-Policy, and axe-core on every page (no serious or critical finding)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from pages import axe as _axe  # noqa: E402
from pages import sign_in as _sign_in  # noqa: E402
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e
TARGET = "Machine failure"
EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
XSS = "<img src=x onerror=alert(1)>"
BIN = Path(sys.executable).parent


def test_each_role_signs_in_and_sees_its_own_menu(
    browser_page: Any, server: Server, keys: dict[str, str]
) -> None:
    page = browser_page
    for role, shown, hidden in (
        ("consumer", ["Models"], ["Datasets", "Train", "Keys", "Alerts"]),
        ("builder", ["Datasets", "Train", "Jobs", "Models", "Alerts"], ["Keys", "Audit"]),
        (
            "admin",
            ["Datasets", "Train", "Jobs", "Models", "Alerts", "Keys", "Audit", "Quotas", "Masking"],
            [],
        ),
    ):
        _sign_in(page, server, keys[role])
        menu = page.get_by_role("navigation", name="Main")
        for name in shown:
            assert menu.get_by_role("link", name=name).count() == 1, (role, name)
        for name in hidden:
            assert menu.get_by_role("link", name=name).count() == 0, (role, name)
        _axe(page)
        for name in shown[1:]:  # every page of the menu passes axe too
            menu.get_by_role("link", name=name).click()
            page.wait_for_load_state()
            _axe(page)
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r".*/signin.*"))


def test_ai4i_from_upload_to_a_downloaded_batch(
    browser_page: Any, server: Server, keys: dict[str, str], ai4i_path: Path, tmp_path: Path
) -> None:
    page = browser_page
    sample = tmp_path / "ai4i-sample.csv"
    pd.read_csv(ai4i_path, encoding="utf-8-sig").head(2000).to_csv(sample, index=False)
    _sign_in(page, server, keys["builder"])

    page.goto(server.url + "/datasets")
    page.get_by_text("Upload a dataset").click()
    _axe(page)
    page.set_input_files("#file", str(sample))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r".*/datasets/ds_.*"))
    assert page.get_by_role("row", name=re.compile("Torque")).count() == 1
    assert page.locator("img[alt^='distribution of']").count() >= 5
    _axe(page)

    page.get_by_role("link", name="Train a model on this dataset").click()
    page.get_by_label("Task").select_option("tabular_classification")  # the form shows the task's fields
    page.get_by_label("Model name").wait_for()
    _axe(page)
    page.get_by_label("Model name").fill("ai4i")
    page.get_by_label("Target column").select_option(TARGET)
    for column in EXCLUDE:
        page.get_by_label(column, exact=True).check()
    page.get_by_label("Time budget (seconds)").fill("5")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r".*/jobs/job_.*"))
    seen = set()
    for _ in range(240):  # the page follows the job without a reload until it ends
        seen.add(page.locator("[data-field=stage]").inner_text())
        if "succeeded" in page.locator("[data-field=status]").inner_text():
            break
        page.wait_for_timeout(250)
    assert "succeeded" in page.locator("[data-field=status]").inner_text()
    assert len(seen - {""}) >= 2, seen  # stages went by live
    _axe(page)

    page.get_by_role("link", name="version 1").click()
    assert page.locator("img[alt*='plot of ai4i']").count() >= 2
    _axe(page)
    page.get_by_role("link", name="All versions of ai4i").click()
    page.get_by_role("button", name="Point here").click()  # asks first; the dialog is accepted
    page.wait_for_url(server.url + "/models/ai4i")
    assert any("Point the alias at version 1" in d for d in page.dialogs), page.dialogs
    assert "production → v1" in page.locator(".facts").inner_text()
    page.get_by_text("Add a description").click()
    page.get_by_label(re.compile("What this model is for")).fill(f"Failures on the AI4I mill {XSS}")
    page.get_by_role("button", name="Save description").click()
    page.wait_for_url(server.url + "/models/ai4i")
    assert page.locator(".description").inner_text() == f"Failures on the AI4I mill {XSS}"  # as text
    assert page.locator("img[src='x']").count() == 0 and len(page.dialogs) == 1  # only the confirmation
    _axe(page)

    page.get_by_role("link", name="Try it").click()
    _axe(page)
    page.get_by_role("button", name=re.compile("Predict")).click()
    page.get_by_text("Answer of version 1").wait_for()
    assert (
        page.get_by_role("heading", name="SHAP").count() == 1
        and page.get_by_role("heading", name="LIME").count() == 1
    )
    assert page.locator("img[alt^='shap:']").count() == 1 and page.locator("img[alt^='lime:']").count() == 1
    _axe(page)

    rows = tmp_path / "rows.csv"
    pd.read_csv(sample).drop(columns=[TARGET, *EXCLUDE]).head(50).to_csv(rows, index=False)
    page.set_input_files("#batch-file", str(rows))
    page.get_by_role("button", name="Start scoring").click()
    page.wait_for_url(re.compile(r".*/jobs/job_.*"))
    download_link = page.get_by_role("link", name="Download the scored CSV")
    download_link.wait_for(timeout=60_000)
    with page.expect_download() as info:
        download_link.click()
    scored = pd.read_csv(info.value.path())
    assert len(scored) == 50

    page.goto(server.url + "/models/ai4i/optimise")
    _axe(page)
    page.get_by_label("Role of Rotational speed [rpm]").select_option("control")
    page.get_by_role("button", name="Find the best settings").click()
    page.get_by_role("heading", name=re.compile("Best settings")).wait_for()
    assert page.get_by_role("rowheader", name="Rotational speed [rpm]").count() == 2  # input and answer
    _axe(page)


def test_csrf_roles_tenants_and_user_text(
    browser_page: Any, server: Server, keys: dict[str, str], tmp_path: Path
) -> None:
    page = browser_page
    weird = tmp_path / "weird.csv"
    pd.DataFrame({XSS: [1, 2, 3], "note": ["<script>alert(2)</script>", "<b>bold</b>", "ok"]}).to_csv(
        weird, index=False
    )
    with Client(server.url, keys["builder"]) as client:
        mine = client.upload_dataset(weird)
    other_key = subprocess.run(
        [str(BIN / "shopfloor"), "keys", "create", "--role", "admin", "--tenant", "other"],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with Client(server.url, other_key) as client:
        theirs = client.upload_dataset(weird)

    _sign_in(page, server, keys["builder"])
    answer = page.goto(f"{server.url}/datasets/{mine['id']}")
    assert answer.status == 200 and "default-src 'none'" in answer.headers["content-security-policy"]
    assert page.get_by_role("rowheader", name=XSS).count() == 1  # shown as text
    assert page.get_by_text("<b>bold</b>").count() == 1 and page.locator("b", has_text="bold").count() == 0
    assert page.locator("img[src='x']").count() == 0 and page.dialogs == []
    _axe(page)
    assert page.goto(f"{server.url}/datasets/{theirs['id']}").status == 404

    # a form posted without the session's token changes nothing
    forged = page.request.post(server.url + "/models/anything/aliases", form={"version": "1"})
    assert forged.status == 403

    _sign_in(page, server, keys["consumer"])
    assert page.goto(server.url + "/datasets").status == 403
    page.goto(server.url + "/")  # the consumer's own session token, from its sign-out form
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(
        server.url + "/train", form={"csrf_token": token, "task": "tabular_classification"}
    )
    assert refused.status == 403

"""Screenshots of the console's main pages into docs/console/, from a fresh server.

Usage: ``.venv/bin/python scripts/console_screenshots.py`` (needs Chromium: Debian's ``chromium``,
installed on first use as the browser tests do). The server gets AI4I 2020 from the package, a
model trained for 10 s, and a few jobs; each page is captured at 1280 pixels wide.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "tests" / "browser"))
from chromium import FLAGS, ensure_installed  # noqa: E402
from server import Server  # noqa: E402

import shopfloor  # noqa: E402
from shopfloor import Client  # noqa: E402
from shopfloor.errors import NotFound  # noqa: E402

OUT = REPO / "docs" / "console"
TARGET = "Machine failure"
EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]


def _model(server: Server, key: str) -> tuple[str, str]:
    with Client(server.url, key) as client:
        ds = client.upload_dataset(Path(shopfloor.__file__).parent / "examples" / "ai4i2020.csv")
        job = client.train(ds["id"], TARGET, "ai4i-failure", exclude=EXCLUDE, time_budget_s=10)
        done = client.wait(job["id"], timeout=600)
        client.set_alias("ai4i-failure", "production", done["result"]["version"])
        about = "Machine failure risk per part on the AI4I mill. Owner: maintenance."
        client.describe_model("ai4i-failure", about)
        return ds["id"], job["id"]


def _watched(server: Server, key: str) -> None:
    """Six windows of logged predictions with their outcomes, and an alert rule: the monitoring
    pages then show figures."""
    import pandas as pd

    data = Path(shopfloor.__file__).parent / "examples" / "ai4i2020.csv"
    rows = pd.read_csv(data).sample(1200, random_state=0)
    with Client(server.url, key) as client:
        client.set_log_rate("ai4i-failure", 1.0)
        datasets = client.list_datasets()
        job = client.train(datasets[0]["id"], TARGET, "ai4i-failure", exclude=EXCLUDE, time_budget_s=5)
        client.wait(job["id"], timeout=600)
        client.set_challenger("ai4i-failure", "shadow", version=2)  # version 2 answers a copy of each call
        outcomes = []
        for i in range(0, len(rows), 200):
            part = rows.iloc[i : i + 200]
            client.predict("ai4i-failure", part.drop(columns=[TARGET, *EXCLUDE]), request_id=f"shift-{i}")
            truth = enumerate(part[TARGET])
            outcomes += [{"request_id": f"shift-{i}", "index": j, "outcome": int(v)} for j, v in truth]
        for _ in range(60):  # the log is written off the request path: its batches land within seconds
            try:
                client.send_feedback("ai4i-failure", outcomes)
                break
            except NotFound:
                time.sleep(0.5)
        client.create_alert_rule("failed-calls", "ai4i-failure", "error_rate", ">", 0.05, window_s=900)


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "home").start()
        try:
            key = server.admin_key()
            assert key
            dataset_id, job_id = _model(server, key)
            _watched(server, key)
            windows = "window=200&windows=6"
            shots = {
                "signin": "/signin",
                "home": "/",
                "datasets": "/datasets",
                "dataset-profile": f"/datasets/{dataset_id}",
                "train": f"/train?dataset_id={dataset_id}&task=tabular_classification",
                "job": f"/jobs/{job_id}",
                "models": "/models",
                "version-report": "/models/ai4i-failure/versions/1",
                "monitoring": f"/models/ai4i-failure/monitoring?{windows}",
                "drift": f"/models/ai4i-failure/drift?{windows}",
                "challenger": "/models/ai4i-failure/challenger?window=15m&windows=4",
                "retraining": "/models/ai4i-failure/retraining",
                "alerts": "/alerts",
                "quotas": "/admin/quotas",
                "keys": "/admin/keys",
                "audit": "/admin/audit",
            }
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(ensure_installed()), args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(server.url + "/signin")
                page.screenshot(path=str(OUT / "signin.png"))
                page.get_by_label("API key").fill(key)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(re.compile(".*/$"))
                for name, path in shots.items():
                    if name == "signin":
                        continue
                    page.goto(server.url + path)
                    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # charts load lazily
                    page.wait_for_load_state("networkidle")
                    page.evaluate("window.scrollTo(0, 0)")
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                page.goto(server.url + "/models/ai4i-failure/try")
                page.get_by_role("button", name="Predict and explain").click()
                page.get_by_text("Answer of version 1").wait_for()
                page.screenshot(path=str(OUT / "try-explained.png"), full_page=True)
                browser.close()
        finally:
            server.stop()
    for shot in sorted(OUT.glob("*.png")):
        print(f"{shot.relative_to(REPO)}: {shot.stat().st_size} bytes")  # noqa: T201 - a command-line tool


if __name__ == "__main__":
    main()

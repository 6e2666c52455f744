"""The console's family views in a real browser: a C-MAPSS anomaly model's scores and events over
time, a part image with its heatmap over it, and a forecast drawn after its history."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from pages import axe as _axe  # noqa: E402
from pages import sign_in as _sign_in  # noqa: E402
from server import Server  # noqa: E402

from zoo import part_png, parts_zip, weekly_sales  # noqa: E402

pytestmark = pytest.mark.e2e
NAMES = ["unit", "cycle", "setting1", "setting2", "setting3"] + [f"s{i}" for i in range(1, 22)]


@pytest.fixture(scope="module")
def models(
    server: Server, keys: dict[str, str], data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """An anomaly model on healthy C-MAPSS engines, an image classifier and a forecaster, trained
    through the API with small budgets; what each try needs."""
    tmp = tmp_path_factory.mktemp("families")
    lives = pd.read_csv(data_dir / "cmapss" / "train_FD001.txt", sep=r"\s+", header=None, names=NAMES)
    length = lives.groupby("unit")["cycle"].transform("max")
    healthy = lives[(lives["unit"] <= 10) & (lives["cycle"] <= 0.6 * length)]
    healthy.to_csv(tmp / "healthy.csv", index=False)
    lives[lives["unit"] == 90].to_csv(tmp / "engine90.csv", index=False)
    (tmp / "parts.zip").write_bytes(parts_zip(good=10, scratched=10))
    (tmp / "sales.csv").write_bytes(weekly_sales())
    with Client(server.url, keys["builder"]) as client:
        ds = client.upload_dataset(
            tmp / "healthy.csv",
            asset_column="unit",
            time_column="cycle",
            settings_columns=["setting1", "setting2", "setting3"],
        )
        jobs = [client.train(ds["id"], None, "engines", task="anomaly", time_budget_s=10)]
        images = client.upload_dataset(tmp / "parts.zip")
        jobs.append(
            client.train(
                images["id"],
                "label",
                "parts",
                task="image_classification",
                options={"size": 32, "max_epochs": 1, "patience": 1, "stability_seeds": 0},
            )
        )
        sales = client.upload_dataset(tmp / "sales.csv", layout="wide")
        jobs.append(
            client.train(
                sales["id"],
                None,
                "demand",
                task="forecast",
                time_budget_s=10,
                options={"horizon": 4, "candidates": ["seasonal_naive"]},
            )
        )
        for job in jobs:
            assert client.wait(job["id"], timeout=600)["status"] == "succeeded"
        for name in ("engines", "parts", "demand"):
            client.set_alias(name, "production", 1)
    scratched = tmp / "part.png"
    scratched.write_bytes(part_png(np.random.default_rng(5), True))
    return {"engine": tmp / "engine90.csv", "image": scratched}


def test_anomaly_scores_and_events_over_time(
    browser_page: Any, server: Server, keys: dict[str, str], models: dict[str, Any]
) -> None:
    page = browser_page
    _sign_in(page, server, keys["builder"])
    page.goto(server.url + "/models/engines/try")
    page.set_input_files("#file", str(models["engine"]))
    page.get_by_role("button", name="Predict and explain").click()
    page.get_by_role("heading", name="Asset 90").wait_for()
    chart = page.locator("img[alt^='chart of asset 90']")
    assert chart.count() == 1 and chart.evaluate("img => img.naturalWidth") > 0
    assert page.get_by_text("Event from").count() >= 1  # the engine's end of life is flagged
    assert page.locator("img[alt^='each sensor\\'s share']").count() >= 1
    _axe(page)


def test_an_image_with_its_heatmap(
    browser_page: Any, server: Server, keys: dict[str, str], models: dict[str, Any]
) -> None:
    page = browser_page
    _sign_in(page, server, keys["builder"])
    page.goto(server.url + "/models/parts/try")
    page.set_input_files("#file", str(models["image"]))
    page.get_by_role("button", name="Predict and explain").click()
    page.get_by_text("Answer of version 1").wait_for()
    heatmap = page.locator("img[alt*='heatmap over the image']")
    assert heatmap.count() >= 1 and heatmap.first.evaluate("img => img.naturalWidth") > 0
    _axe(page)


def test_a_forecast_after_its_history(
    browser_page: Any, server: Server, keys: dict[str, str], models: dict[str, Any]
) -> None:
    page = browser_page
    _sign_in(page, server, keys["consumer"])
    page.goto(server.url + "/models/demand/try")
    page.get_by_label("Series").fill("P0, P1")
    page.get_by_role("button", name="Forecast").click()
    charts = page.locator("img[alt^='history and forecast of']")
    charts.first.wait_for()
    assert charts.count() == 2
    assert page.get_by_role("columnheader", name="80 % interval").count() == 2
    _axe(page)

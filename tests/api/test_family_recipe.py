"""The family recipe (docs/adding-a-family.md): a family defined outside ``src/`` (tests/mean_family.py),
registered with the catalog, is trained and served through the API, the SDK and the CLI, with no
change anywhere else."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mean_family
from conftest import Api, open_api
from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.client import Client
from shopfloor.settings import Settings
from shopfloor.tasks import catalog

TASK = "mean_regression"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    catalog.register(*mean_family.TASKS)
    settings = Settings(home=tmp_path_factory.mktemp("recipe") / "home", default_time_budget_s=5)
    try:
        yield from open_api(settings)
    finally:
        catalog.unregister(TASK)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = {"speed": rng.uniform(0, 10, 40), "load": rng.uniform(0, 5, 40), "y": np.arange(40.0)}
    return pd.DataFrame(frame)


def sdk(api: Api, who: str = "builder") -> Client:
    """The SDK on the in-process app; queued jobs run after each request (the server has a runner)."""
    return api.sdk(who, run_jobs=True)


def test_the_family_is_declared_by_its_own_package_only(api: Api) -> None:
    assert TASK in catalog.tasks() and catalog.trainable(TASK)
    assert catalog.estimator_class(TASK) is mean_family.MeanRegressor
    assert catalog.capabilities(TASK) is mean_family.MeanRegressor.declared[TASK]


def test_api_trains_predicts_explains_and_scores_a_batch(api: Api, table: pd.DataFrame) -> None:
    builder = api.headers("builder")
    data = table.to_csv(index=False).encode()
    up = api.client.post(
        "/v1/datasets", files={"file": ("t.csv", data, "text/csv")}, data={"name": "t"}, headers=builder
    )
    assert up.status_code == 201, up.text
    body = {"type": "train", "task": TASK, "dataset_id": up.json()["id"], "target": "y", "model_name": "mean"}
    job = api.client.post("/v1/jobs", json=body, headers=builder)
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=builder).json()
    assert done["status"] == "succeeded", done
    version = done["result"]["version"]
    predicted = api.client.post("/v1/models/mean/predict", json={"records": [{"speed": 1, "load": 2}]},
                                params={"version": version}, headers=api.headers("consumer"))
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["predictions"][0]["prediction"] == pytest.approx(19.5)
    explained = api.client.post("/v1/models/mean/explain", json={"records": [{"speed": 1, "load": 2}]},
                                params={"version": version}, headers=api.headers("consumer"))
    assert explained.status_code == 200 and explained.json()["explanations"][0]["base"] == pytest.approx(19.5)
    batch = api.client.post("/v1/models/mean/batch", files={"file": ("b.csv", data, "text/csv")},
                            params={"version": version}, headers=builder)
    assert batch.status_code == 202, batch.text
    api.run_jobs()
    scored = api.client.get(f"/v1/jobs/{batch.json()['id']}/result", headers=builder)
    assert scored.status_code == 200, scored.text
    assert pd.read_csv(io.BytesIO(scored.content))["prediction"].tolist() == [19.5] * len(table)


def test_sdk_trains_and_predicts(api: Api, table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    with sdk(api) as client:
        dataset = client.upload_dataset(path, name="sdk")
        job = client.wait(client.train(dataset["id"], "y", "mean-sdk", task=TASK)["id"])
        assert job["status"] == "succeeded", job
        answer = client.predict("mean-sdk", table.drop(columns="y").head(3), version=job["result"]["version"])
    assert [p["prediction"] for p in answer["predictions"]] == [pytest.approx(19.5)] * 3


def test_cli_trains_and_scores_a_file(
    api: Api, table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    monkeypatch.setattr(cli_common, "make_client", lambda: sdk(api))
    with sdk(api) as client:
        dataset = client.upload_dataset(path, name="cli")
    runner = CliRunner()
    trained = runner.invoke(
        app, ["train", "--dataset", dataset["id"], "--target", "y", "--name", "mean-cli", "--task", TASK]
    )
    assert trained.exit_code == 0, trained.output
    with sdk(api, "admin") as client:
        client.set_alias("mean-cli", "production", 1)
    out = tmp_path / "scored.csv"
    scored = runner.invoke(app, ["batch", "mean-cli", str(path), "--output", str(out)])
    assert scored.exit_code == 0, scored.output
    assert pd.read_csv(out)["prediction"].tolist() == [19.5] * len(table)

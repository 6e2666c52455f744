"""Demand forecasting over HTTP: a wide weekly table uploaded and converted, a forecast job chosen
by backtest, forecasts with intervals; every impossible request refused with nothing stored."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from conftest import Api
from shopfloor.errors import NotFound

WEEKS = 40


def _wide(n_series: int = 12, weeks: int = WEEKS, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        level = rng.uniform(5, 40)
        trend = rng.normal(0, 0.2)
        y = np.maximum(0, level + trend * np.arange(weeks) + rng.normal(0, 3, weeks)).round()
        if i % 4 == 3:  # some intermittent demand
            y = np.where(rng.random(weeks) < 0.6, 0, y)
        row = {"Product_Code": f"P{i}", **{f"W{k}": y[k] for k in range(weeks)}}
        row["MIN"], row["MAX"] = y.min(), y.max()
        row.update({f"Normalized {k}": y[k] / max(y.max(), 1) for k in range(weeks)})
        rows.append(row)
    out = io.StringIO()
    pd.DataFrame(rows).to_csv(out, index=False)
    return out.getvalue().encode()


def _upload(api: Api, data: bytes, **fields: str) -> object:
    return api.client.post(
        "/v1/datasets",
        files={"file": ("sales.csv", data, "text/csv")},
        data={"layout": "wide", **fields},
        headers=api.headers("builder"),
    )


def _train(api: Api, dataset_id: str, **options: object) -> object:
    body = {
        "type": "train",
        "task": "forecast",
        "dataset_id": dataset_id,
        "model_name": "demand",
        "time_budget_s": 60,
        "options": {"horizon": 4, "candidates": ["auto_ets", "theta", "croston"], **options},
    }
    return api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))


def test_wide_upload_forecast_job_and_forecasts_with_intervals(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = _upload(api, _wide())
    assert answer.status_code == 201, answer.text
    dataset = answer.json()
    conversion = dataset["conversion"]
    assert conversion["series_column"] == "Product_Code" and conversion["period_columns"]["count"] == WEEKS
    assert conversion["rows"] == {"wide": 12, "long": 12 * WEEKS}
    assert "MIN" in conversion["dropped_columns"] and "Normalized 0" in conversion["dropped_columns"]
    assert {c["name"]: c["role"] for c in dataset["columns"]} == {
        "Product_Code": "series", "period": "time", "value": "value",
    }  # fmt: skip
    job = _train(api, dataset["id"])  # columns settled from the conversion's roles
    assert job.status_code == 202, job.text
    assert job.json()["params"]["options"]["series_column"] == "Product_Code"
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    version = api.client.get("/v1/models/demand/versions/1", headers=api.headers("builder")).json()
    report = version["report"]
    names = {c["name"] for c in report["candidates"]}
    assert {"seasonal_naive", "auto_ets", "theta", "croston"} <= names  # intermittent series seen
    assert report["backtest"]["windows"] == 3 and report["backtest"]["horizon"] == 4
    assert set(report["metrics"]["coverage"]) == {"80", "95"}
    assert len(report["candidates"][0]["mase_by_step"]) == 4

    for kind in ("candidates", "horizon"):  # charts of the backtest
        chart = api.client.get(f"/v1/models/demand/versions/1/plots/{kind}", headers=api.headers("builder"))
        assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG"), chart.text
    no_chart = api.client.get("/v1/models/demand/versions/1/plots/confusion", headers=api.headers("builder"))
    assert no_chart.status_code == 422

    consumer = api.headers("consumer")
    body = {"series": ["P1", "P3"], "horizon": 3, "levels": [80, 95]}
    got = api.client.post("/v1/models/demand/forecast?version=1", json=body, headers=consumer)
    assert got.status_code == 200, got.text
    first = got.json()["forecasts"][0]
    assert first["series"] == "P1" and first["periods"] == [40, 41, 42]
    lo80, hi80 = first["intervals"]["80"]["lower"], first["intervals"]["80"]["upper"]
    lo95, hi95 = first["intervals"]["95"]["lower"], first["intervals"]["95"]["upper"]
    for k in range(3):
        assert 0 <= lo95[k] <= lo80[k] <= first["forecast"][k] <= hi80[k] <= hi95[k]
    every = api.client.post("/v1/models/demand/forecast?version=1", json={"series": "all"}, headers=consumer)
    assert len(every.json()["forecasts"]) == 12 and every.json()["horizon"] == 4

    for bad, loc in (
        ({"horizon": 9}, ["body", "horizon"]),  # beyond what the model was built for
        ({"series": ["P1", "nope"]}, ["body", "series", 1]),
        ({"levels": [120]}, ["body", "levels", 0]),
    ):
        refused = api.client.post("/v1/models/demand/forecast?version=1", json=bad, headers=consumer)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == loc

    # an answer's size is bounded before it is computed: series x horizon x (1 + 2 levels) numbers
    from shopfloor.services import forecasting

    monkeypatch.setattr(forecasting, "MAX_VALUES", 100)  # "all": 12 series x 4 periods x 5 = 240
    big = api.client.post("/v1/models/demand/forecast?version=1", json={"series": "all"}, headers=consumer)
    assert big.status_code == 422 and big.json()["errors"][0]["loc"] == ["body", "series"]
    assert "at most 5 series" in big.json()["detail"]
    five = {"series": ["P1", "P2", "P3", "P4", "P5"]}
    fits = api.client.post("/v1/models/demand/forecast?version=1", json=five, headers=consumer)
    assert fits.status_code == 200, fits.text

    # the history the console draws before a forecast: from the training dataset, while it is stored
    past = forecasting.history(api.platform, "default", "demand", 1, ["P1", "nope"])
    assert list(past) == ["P1"] and len(past["P1"]["values"]) == WEEKS
    store = api.platform.store

    def gone(tenant: str, dataset_id: str) -> None:
        raise NotFound(f"dataset {dataset_id!r} not found")

    monkeypatch.setattr(store, "get_dataset", gone)
    assert forecasting.history(api.platform, "default", "demand", 1, ["P1"]) == {}


def test_impossible_forecast_requests_are_refused_and_nothing_is_stored(api: Api) -> None:
    builder = api.headers("builder")
    duplicate = _wide().decode().splitlines()
    duplicate.append(duplicate[1])  # P0 twice
    refused = _upload(api, "\n".join(duplicate).encode())
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"][2] == "Product_Code"
    assert _upload(api, _wide(), period_prefix="X").status_code == 422
    assert api.client.get("/v1/datasets", headers=builder).json()["items"] == []
    assert api.files_under("default", "datasets") == []

    dataset_id = _upload(api, _wide(weeks=20)).json()["id"]
    for options, loc in (
        ({"horizon": 8}, ["body", "options", "horizon"]),  # 20 weeks cannot hold two windows of 8
        ({"season_length": 26}, ["body", "options", "season_length"]),  # shorter than a season
        ({"n_windows": 1}, ["body", "options", "n_windows"]),  # one split is not a backtest
        ({"candidates": ["prophet"]}, ["body", "options", "candidates"]),
    ):
        answer = _train(api, dataset_id, **options)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["loc"] == loc
    assert api.client.get("/v1/jobs", headers=builder).json()["items"] == []
    assert api.client.get("/v1/models", headers=builder).json()["items"] == []

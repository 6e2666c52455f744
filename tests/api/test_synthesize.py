"""Synthetic copy of AI4I through the API: utility, privacy, types, and the copy trains.

The copy is made of a sample of AI4I (every failure and enough other rows to make SAMPLE_ROWS), so
the checks hold on it in seconds; the figures of the whole table are measured by
bench/synthesize_ai4i.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

Api = Any
FAILURE_MODES = ["TWF", "HDF", "PWF", "OSF", "RNF"]
SAMPLE_ROWS = 2500


def _sample(ai4i_path: Path, folder: Path) -> Path:
    """Every failure of AI4I and a random draw of the other rows, SAMPLE_ROWS in all, in file order."""
    frame = pd.read_csv(ai4i_path)
    failed = frame[frame["Machine failure"] == 1]
    others = frame[frame["Machine failure"] == 0].sample(SAMPLE_ROWS - len(failed), random_state=0)
    path = folder / "ai4i-sample.csv"
    pd.concat([failed, others]).sort_index().to_csv(path, index=False)
    return path


def _upload(api: Api, path: Path) -> dict:
    with path.open("rb") as fh:
        response = api.client.post(
            "/v1/datasets", headers=api.headers("builder"), files={"file": ("ai4i.csv", fh, "text/csv")}
        )
    assert response.status_code == 201, response.text
    return response.json()


def test_synthesize_ai4i(api: Api, ai4i_path: Path, tmp_path: Path) -> None:
    real = _upload(api, _sample(ai4i_path, tmp_path))
    assert real["rows"] == SAMPLE_ROWS
    body = {"target": "Machine failure", "exclude": FAILURE_MODES, "seed": 0, "name": "ai4i-shared"}
    started = time.perf_counter()
    response = api.client.post(
        f"/v1/datasets/{real['id']}/synthesize", json=body, headers=api.headers("builder")
    )
    assert response.status_code == 202, response.text
    api.run_jobs()
    job = api.client.get(f"/v1/jobs/{response.json()['id']}", headers=api.headers("builder")).json()
    assert job["status"] == "succeeded", job
    seconds = time.perf_counter() - started
    result, report = job["result"], job["result"]["report"]
    utility, privacy = report["utility"], report["privacy"]
    print(f"\nAI4I synthesize: {seconds:.1f}s utility={utility} privacy={privacy}")  # noqa: T201
    assert utility["real"]["roc_auc"] > 0.9
    assert utility["synthetic"]["roc_auc"] > utility["real"]["roc_auc"] - 0.15
    assert privacy["reproduced_rows"] == 0 and privacy["dcr_synthetic"]["min"] > 0
    assert report["fidelity"]["correlation_max_abs_diff"] < 0.2
    assert all(c["value"] < 0.1 for c in report["fidelity"]["columns"].values())

    new = api.client.get(f"/v1/datasets/{result['dataset_id']}", headers=api.headers("builder")).json()
    assert new["name"] == "ai4i-shared" and new["rows"] == real["rows"]
    expected = {c["name"]: c["type"] for c in real["columns"] if c["name"] not in FAILURE_MODES}
    assert {c["name"]: c["type"] for c in new["columns"]} == expected

    train = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": new["id"],
        "target": "Machine failure",
        "exclude": ["UDI", "Product ID"],
        "model_name": "from-synthetic",
        "time_budget_s": 2,
    }
    response = api.client.post("/v1/jobs", json=train, headers=api.headers("builder"))
    assert response.status_code == 202, response.text
    api.run_jobs()
    trained = api.client.get(f"/v1/jobs/{response.json()['id']}", headers=api.headers("builder")).json()
    assert trained["status"] == "succeeded", trained


def test_synthesize_rejects_bad_requests(api: Api, ai4i_path: Path) -> None:
    real = _upload(api, ai4i_path)
    url = f"/v1/datasets/{real['id']}/synthesize"
    h = api.headers("builder")
    assert api.client.post(url, json={"target": "nope"}, headers=h).json()["errors"][0]["loc"] == [
        "body",
        "target",
    ]
    assert api.client.post(url, json={"rows": 10 * real["rows"] + 1}, headers=h).status_code == 422
    assert api.client.post(url, json={"exclude": ["ghost"]}, headers=h).status_code == 422
    assert api.client.post(url, json={}, headers=api.headers("consumer")).status_code == 403
    assert api.client.post("/v1/datasets/ds_missing/synthesize", json={}, headers=h).status_code == 404
    assert api.platform.store.list_jobs("default") == []

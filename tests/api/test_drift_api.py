"""Drift checks through the API: a window against the training profile stored with the version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.jobs.registering import register_version
from shopfloor.monitoring.profile import FILES

Api = Any
TRAIN_ROWS = 2000
AI4I_EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
AI4I_TARGET = "Machine failure"
_DATA: dict[str, Path] = {}  # the AI4I file, set by the fixture below before the home is built


@pytest.fixture(autouse=True)
def _ai4i_file(ai4i_path: Path) -> None:
    if not ai4i_path.exists():
        pytest.skip(f"AI4I data not found at {ai4i_path}")
    _DATA["ai4i"] = ai4i_path


def _ai4i() -> pd.DataFrame:
    return pd.read_csv(_DATA["ai4i"])


def _split() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = _ai4i()
    order = np.random.default_rng(0).permutation(len(frame))
    return frame.iloc[order[:TRAIN_ROWS]], frame.iloc[order[TRAIN_ROWS:]]


def _train_ai4i(api: Api) -> str:
    train, _ = _split()
    response = api.client.post(
        "/v1/datasets",
        headers=api.headers("builder"),
        files={"file": ("ai4i.csv", train.to_csv(index=False).encode(), "text/csv")},
    )
    assert response.status_code == 201, response.text
    dataset_id = response.json()["id"]
    body = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": dataset_id,
        "target": AI4I_TARGET,
        "exclude": AI4I_EXCLUDE,
        "model_name": "ai4i",
        "time_budget_s": 4,
    }
    response = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert response.status_code == 202, response.text
    api.run_jobs()
    job = api.client.get(f"/v1/jobs/{response.json()['id']}", headers=api.headers("builder")).json()
    assert job["status"] == "succeeded", job
    promoted = api.client.put(
        "/v1/models/ai4i/aliases/production", json={"version": 1}, headers=api.headers("builder")
    )
    assert promoted.status_code == 200, promoted.text
    return dataset_id


@pytest.fixture()
def trained(api_with: Any) -> Api:
    return api_with(_train_ai4i)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.drop(columns=[*AI4I_EXCLUDE, AI4I_TARGET]).to_dict("records")


def test_a_trained_version_carries_its_profile_sealed_and_signed(trained: Api) -> None:
    version = trained.client.get("/v1/models/ai4i/versions/1", headers=trained.headers()).json()
    files = trained.platform.store.get_version("default", "ai4i", 1).files
    assert set(FILES) <= set(files)
    assert not any(w["code"] == "drift-profile" for w in version["report"]["warnings"])
    stored = [p for p in trained.files_under("default", "models", "ai4i") if p.name in FILES]
    assert len(stored) == 2 and all(b"Tool wear" not in p.read_bytes() for p in stored)  # encrypted

    response = trained.client.get("/v1/models/ai4i/drift/profile", headers=trained.headers("consumer"))
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["source"] == "training" and profile["rows"] == TRAIN_ROWS
    names = {i["name"] for i in profile["inputs"]}
    assert {"Tool wear [min]", "Process temperature [K]", "Type"} <= names
    assert {o["name"] for o in profile["outputs"]} >= {"prediction", "probability of 1"}


def test_shifted_window_is_named_and_stable_one_is_not(trained: Api) -> None:
    _, rest = _split()
    stable = rest.iloc[:500]
    response = trained.client.post(
        "/v1/models/ai4i/drift", json={"records": _records(stable)}, headers=trained.headers("consumer")
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["version"] == 1 and report["rows"] == 500
    assert not report["drifted"], report["summary"]

    shifted = stable.assign(**{"Tool wear [min]": stable["Tool wear [min]"] + 60})
    csv = shifted.to_csv(index=False).encode()
    response = trained.client.post(
        "/v1/models/ai4i/drift",
        files={"file": ("window.csv", csv, "text/csv")},
        headers=trained.headers("consumer"),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["drifted"] and report["inputs"][0]["name"] == "Tool wear [min]"
    assert report["inputs"][0]["sentence"].startswith("Tool wear [min] rose by 6")
    assert report["thresholds"]["correction"] == "holm" and report["thresholds"]["tests"] >= 7


def test_a_dataset_as_window_needs_the_right_to_read_datasets(trained: Api) -> None:
    dataset_id = trained.made
    body = {"dataset_id": dataset_id}
    refused = trained.client.post("/v1/models/ai4i/drift", json=body, headers=trained.headers("consumer"))
    assert refused.status_code == 403
    response = trained.client.post("/v1/models/ai4i/drift", json=body, headers=trained.headers("builder"))
    assert response.status_code == 200, response.text
    assert not response.json()["drifted"]  # the training data itself


def test_auth_roles_and_tenants(trained: Api) -> None:
    body = {"records": _records(_split()[1].iloc[:50])}
    url = "/v1/models/ai4i/drift"
    assert trained.client.post(url, json=body).status_code == 401
    assert trained.client.post(url, json=body, headers=trained.headers("metrics")).status_code == 403
    assert trained.client.post(url, json=body, headers=trained.headers("other")).status_code == 404
    assert trained.client.get(f"{url}/profile", headers=trained.headers("other")).status_code == 404
    assert trained.client.post(f"{url}/plot", json=body, headers=trained.headers("other")).status_code == 404


@pytest.mark.parametrize(
    ("body", "query", "status", "where"),
    [
        ({"records": []}, "", 422, ["body"]),
        ({"records": "x"}, "", 422, ["body", "records"]),
        ({"records": [], "dataset_id": "d"}, "", 422, ["body"]),
        ({"records": [1, 2]}, "", 422, ["body", "records", 0]),
        ({"records": None}, "?alpha=1.5", 422, ["query", "alpha"]),
    ],
)
def test_bad_windows_are_refused_saying_where(
    trained: Api, body: Any, query: str, status: int, where: list
) -> None:
    response = trained.client.post(f"/v1/models/ai4i/drift{query}", json=body, headers=trained.headers())
    assert response.status_code == status, response.text
    assert any(e["loc"][: len(where)] == where for e in response.json()["errors"]), response.json()


def test_a_window_without_an_input_column_is_refused(trained: Api) -> None:
    records = [{k: v for k, v in r.items() if k != "Type"} for r in _records(_split()[1].iloc[:60])]
    response = trained.client.post(
        "/v1/models/ai4i/drift", json={"records": records}, headers=trained.headers()
    )
    assert response.status_code == 422
    assert "Type" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "columns", "Type"]


def test_plots_are_png(trained: Api) -> None:
    rest = _split()[1].iloc[:600]
    rest = rest.assign(**{"Process temperature [K]": rest["Process temperature [K]"] + 2})
    body = {"records": _records(rest)}
    for kind in ("distributions", "timeline"):
        response = trained.client.post(
            f"/v1/models/ai4i/drift/plot?kind={kind}", json=body, headers=trained.headers("consumer")
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png" and response.content.startswith(b"\x89PNG")
    bad = trained.client.post("/v1/models/ai4i/drift/plot?kind=pie", json=body, headers=trained.headers())
    assert bad.status_code == 422


def test_a_version_without_profile_gets_one_from_its_dataset_or_says_why(trained: Api) -> None:
    platform = trained.platform
    loaded = platform.models.get("default", "ai4i", 1)
    mv = loaded.version
    files = {
        f: platform.sealed.get("default", f"{mv.artifact}/{f}", digest) for f, digest in mv.files.items()
        if f not in FILES
    }
    for name, lineage in (("older", mv.lineage), ("gone", {**mv.lineage, "dataset_id": "ds_gone"})):
        register_version(
            platform, tenant="default", model=name, task=mv.task, files=files, report=mv.report,
            input_schema=mv.input_schema, lineage=lineage,
        )
    response = trained.client.get("/v1/models/older/drift/profile?version=1", headers=trained.headers())
    assert response.status_code == 200, response.text
    assert response.json()["source"].startswith("computed on demand from training dataset")
    window = {"records": _records(_split()[1].iloc[:200])}
    older = trained.client.post("/v1/models/older/drift?version=1", json=window, headers=trained.headers())
    assert older.status_code == 200, older.text
    response = trained.client.post("/v1/models/gone/drift?version=1", json=window, headers=trained.headers())
    assert response.status_code == 409
    assert "no drift profile" in response.json()["detail"] and "no longer exists" in response.json()["detail"]

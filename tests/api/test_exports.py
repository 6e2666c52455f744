"""GET /v1/models/{name}/versions/{v}/export: ONNX and MLflow directories that answer as /predict does.

The ONNX file runs in plain onnxruntime on the raw columns; the MLflow zip loads with mlflow-skinny's
``mlflow.pyfunc.load_model`` (the ``mlflow.onnx`` flavour) and predicts the same; a model that has no
portable form gets a 409 naming why; every export is audited; another tenant sees 404.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import yaml

from onnx_feeds import run_onnx
from shopfloor.jobs.registering import register_version
from shopfloor.tasks.tabular.estimator import TabularEstimator
from zoo import machines

Api = Any
#: mlflow warns about its own type hints when its pyfunc module loads
MLFLOW_WARNINGS = pytest.mark.filterwarnings("ignore:.*type hint.*:UserWarning")


def _register(api: Api, name: str, est: Any, task: str) -> None:
    register_version(
        api.platform, tenant="default", model=name, task=task, files=est.save(), report=est.report_,
        input_schema=est.input_schema_, lineage={},
    )


@pytest.fixture(scope="module")
def trained() -> TabularEstimator:
    return TabularEstimator(time_budget_s=2, seed=0).fit(machines(240), "failure")


@pytest.fixture()
def press(api: Api, trained: TabularEstimator) -> Api:
    _register(api, "press", trained, "tabular_classification")
    return api


def _records() -> list[dict[str, Any]]:
    rows = machines(30, seed=5).drop(columns=["failure"])
    records: list[dict[str, Any]] = rows.to_dict("records")
    records[0]["torque"] = None
    records[1]["Type"] = "Z"
    return records


def _predicted(api: Api, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = api.client.post(
        "/v1/models/press/predict",
        params={"version": 1},
        json={"records": records},
        headers=api.headers("consumer"),
    )
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def _export(api: Api, fmt: str, who: str = "builder", name: str = "press") -> Any:
    url = f"/v1/models/{name}/versions/1/export"
    return api.client.get(url, params={"format": fmt}, headers=api.headers(who))


def test_onnx_export_answers_as_predict(press: Api) -> None:
    response = _export(press, "onnx")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="press-v1.onnx"'
    records = _records()
    out = run_onnx(response.content, records)
    expected = _predicted(press, records)
    assert out["prediction"].tolist() == [p["label"] for p in expected]
    for label in ("0", "1"):
        wanted = [p["probabilities"][label] for p in expected]
        np.testing.assert_allclose(out[f"proba_{label}"], wanted, atol=1e-6)
    events = press.platform.store.list_audit("default", action="model.export")
    assert [(e.target, e.detail["format"], e.detail["version"]) for e in events] == [("press", "onnx", 1)]


@MLFLOW_WARNINGS
def test_mlflow_export_loads_with_mlflow_and_predicts_the_same(press: Api, tmp_path: Path) -> None:
    import mlflow.pyfunc

    response = _export(press, "mlflow")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path)
    folder = tmp_path / "press-v1"
    expected_files = {"MLmodel", "model.onnx", "conda.yaml", "python_env.yaml", "requirements.txt",
                      "input_example.json", "serving_input_example.json"}  # fmt: skip
    assert {f"press-v1/{f}" for f in expected_files} == names
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlflow.onnx"
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [
        (c["name"], "string" if c["type"] == "categorical" else "double")
        for c in press.platform.store.get_version("default", "press", 1).input_schema
    ]
    model = mlflow.pyfunc.load_model(str(folder))
    records = [r for r in _records() if all(v is not None for v in r.values())]
    frame = pd.DataFrame(records)[[c["name"] for c in inputs]]
    out = model.predict(frame)
    expected = _predicted(press, records)
    assert out["prediction"].tolist() == [p["label"] for p in expected]
    np.testing.assert_allclose(out["proba_1"], [p["probabilities"]["1"] for p in expected], atol=1e-6)
    example = json.loads((folder / "input_example.json").read_text())
    assert example["columns"] == [c["name"] for c in inputs] and len(example["data"]) == 3
    assert len(model.predict(pd.DataFrame(example["data"], columns=example["columns"]))) == 3


def test_regression_exports_its_value(api: Api) -> None:
    table = machines(200).drop(columns=["failure"])
    est = TabularEstimator(kind="regression", time_budget_s=2, seed=0).fit(table, "wear")
    _register(api, "wear", est, "tabular_regression")
    response = _export(api, "onnx", name="wear")
    assert response.status_code == 200, response.text
    rows = machines(20, seed=3)
    value = run_onnx(response.content, rows.to_dict("records"))["prediction"]
    expected = [p["value"] for p in est.predict(rows.to_dict("records"))]
    np.testing.assert_allclose(value, expected, rtol=1e-6)


def test_refusals(press: Api) -> None:
    from shopfloor.tasks.tabular.imported import ImportedModel

    schema = [{"name": "x", "type": "numeric"}]
    imported = ImportedModel(kind="regression", format="onnx", input_schema=schema)
    imported.input_schema_, imported.report_, imported.runtime_, imported.data_ = schema, {}, None, b"x"
    imported.classes_ = []
    _register(press, "outside", imported, "imported_regression")
    conflict = _export(press, "onnx", name="outside")
    assert conflict.status_code == 409, conflict.text
    assert "imported_regression" in conflict.json()["detail"]
    bad = _export(press, "pmml")
    assert bad.status_code == 422 and "onnx, mlflow" in bad.json()["detail"]
    assert _export(press, "onnx", who="other").status_code == 404
    # the whole model leaves the server: its owners' permission, not every reader's
    assert _export(press, "onnx", who="consumer").status_code == 403
    assert press.client.get("/v1/models/press/versions/1/export").status_code == 401
    assert press.client.get("/v1/models/press/versions/9/export", headers=press.headers()).status_code == 404
    assert press.platform.store.list_audit("default", action="model.export") == []


def test_sdk_export(press: Api, tmp_path: Path) -> None:
    sdk = press.sdk("builder")
    data = sdk.export_model("press", 1, format="onnx")
    assert ort.InferenceSession(data).get_outputs()[-1].name == "prediction"
    target = sdk.export_model("press", 1, format="mlflow", dest=tmp_path / "press.zip")
    assert zipfile.ZipFile(target).namelist()[0] == "press-v1/MLmodel"

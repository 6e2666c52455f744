"""Importing MLflow model directories: pickle-free flavours round trip, the others are refused.

The directories are made by mlflow-skinny's own save functions (``mlflow.lightgbm``, ``mlflow.onnx``,
``mlflow.sklearn``), zipped or tarred as a user would upload them; Shopfloor's own MLflow export
imports back too. A refused upload stores nothing.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

Api = Any
COLUMNS = ["speed", "torque", "wear"]
MLFLOW_WARNINGS = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::DeprecationWarning", "ignore::FutureWarning"
)
pytestmark = MLFLOW_WARNINGS
#: given, so that mlflow does not load the model in a subprocess to infer them
PIP = ["shopfloor-test"]


def _table(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "speed": rng.uniform(1200, 2800, n),
            "torque": rng.uniform(10, 70, n),
            "wear": rng.uniform(0, 200, n),
        }
    )
    y = ((X.torque > 50) & (X.speed < 2000) | (X.wear > 180)).astype(int).to_numpy()
    return X, y


def _signature() -> Any:
    from mlflow.models import infer_signature

    X, y = _table()
    return infer_signature(X, pd.Series(y, name="failure"))


def _zip(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                archive.write(f, prefix + f.relative_to(folder).as_posix())
    return buffer.getvalue()


def _tar_gz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname="model")
    return buffer.getvalue()


def _post(api: Api, name: str, data: bytes, filename: str = "model.zip", **form: Any) -> Any:
    fields = {"format": "mlflow", "task": "tabular_classification", **form}
    return api.client.post(
        f"/v1/models/{name}/versions",
        headers=api.headers("builder"),
        data=fields,
        files={"file": (filename, data, "application/octet-stream")},
    )


def _predict(api: Api, name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = api.client.post(
        f"/v1/models/{name}/predict",
        params={"version": 1},
        json={"records": records},
        headers=api.headers("consumer"),
    )
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def _nothing_stored(api: Api, name: str) -> None:
    assert api.client.get(f"/v1/models/{name}", headers=api.headers()).status_code == 404
    assert api.files_under("default", "models", name) == []


def test_lightgbm_booster_round_trips(api: Api, tmp_path: Path) -> None:
    import lightgbm as lgb
    import mlflow.lightgbm

    X, y = _table()
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=20)
    mlflow.lightgbm.save_model(booster, str(tmp_path / "lgb"), signature=_signature(), pip_requirements=PIP)
    response = _post(api, "lgb", _zip(tmp_path / "lgb"))
    assert response.status_code == 201, response.text
    version = response.json()
    assert version["lineage"]["mlflow_flavour"] == "lightgbm" and version["lineage"]["format"] == "lightgbm"
    assert [c["name"] for c in version["input_schema"]] == COLUMNS
    rows, _ = _table(20, seed=4)
    answers = _predict(api, "lgb", rows.to_dict("records"))
    np.testing.assert_allclose([a["probabilities"]["1"] for a in answers], booster.predict(rows), atol=1e-12)


def test_onnx_flavour_round_trips_from_a_tar_gz(api: Api, tmp_path: Path) -> None:
    import mlflow.onnx
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    X, y = _table()
    clf = LogisticRegression(max_iter=1000).fit(X.to_numpy(np.float32), y)
    model = to_onnx(clf, X.to_numpy(np.float32)[:1], options={"zipmap": False}, target_opset=17)
    mlflow.onnx.save_model(model, str(tmp_path / "onnx"), signature=_signature(), pip_requirements=PIP)
    response = _post(api, "onnx", _tar_gz(tmp_path / "onnx"), filename="model.tar.gz")
    assert response.status_code == 201, response.text
    rows, _ = _table(20, seed=4)
    answers = _predict(api, "onnx", rows.to_dict("records"))
    expected = clf.predict_proba(rows.to_numpy(np.float32))[:, 1]
    np.testing.assert_allclose([a["probabilities"]["1"] for a in answers], expected, atol=1e-5)
    assert [a["label"] for a in answers] == clf.predict(rows.to_numpy(np.float32)).tolist()


def test_a_shopfloor_export_imports_back(api: Api) -> None:
    from shopfloor.jobs.registering import register_version
    from shopfloor.tasks.tabular.estimator import TabularEstimator
    from zoo import machines

    est = TabularEstimator(time_budget_s=2, seed=0).fit(machines(200), "failure")
    register_version(
        api.platform, tenant="default", model="press", task="tabular_classification", files=est.save(),
        report=est.report_, input_schema=est.input_schema_, lineage={},
    )
    url = "/v1/models/press/versions/1/export"
    exported = api.client.get(url, params={"format": "mlflow"}, headers=api.headers())
    assert exported.status_code == 200, exported.text
    refused = _post(api, "again", exported.content)
    assert refused.status_code == 422
    assert "'Type' is a string" in refused.json()["detail"] and "categories" in refused.json()["detail"]
    response = _post(api, "again", exported.content, input_schema=json.dumps(est.input_schema_))
    assert response.status_code == 201, response.text
    records = machines(25, seed=9).drop(columns=["failure"]).to_dict("records")
    records[0]["Type"] = None
    again, original = _predict(api, "again", records), _predict(api, "press", records)
    assert [a["label"] for a in again] == [o["label"] for o in original]
    np.testing.assert_allclose(
        [a["probabilities"]["1"] for a in again], [o["probabilities"]["1"] for o in original], atol=1e-6
    )


def test_a_pickled_sklearn_model_is_refused_and_nothing_stored(api: Api, tmp_path: Path) -> None:
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    X, y = _table()
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    mlflow.sklearn.save_model(
        clf,
        str(tmp_path / "sk"),
        signature=_signature(),
        serialization_format="cloudpickle",
        pip_requirements=PIP,
    )
    response = _post(api, "sk", _zip(tmp_path / "sk", prefix="sk/"))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "'sklearn'" in detail and "pickle" in detail and "ONNX" in detail
    _nothing_stored(api, "sk")


def _handwritten(tmp_path: Path, mlmodel: dict[str, Any], files: dict[str, bytes]) -> bytes:
    import yaml

    folder = tmp_path / "hand"
    folder.mkdir(exist_ok=True)
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return _zip(folder)


def test_refusals(api: Api, tmp_path: Path) -> None:
    import lightgbm as lgb

    custom = {"loader_module": "mlflow.pyfunc.model", "python_model": "python_model.pkl"}
    pyfunc = {"flavors": {"python_function": custom}}
    response = _post(api, "custom", _handwritten(tmp_path, pyfunc, {"python_model.pkl": b"\x80\x04."}))
    assert response.status_code == 422 and "'python_function'" in response.json()["detail"]
    wrapper = {"flavors": {"lightgbm": {"data": "model.pkl", "model_class": "lightgbm.sklearn.LGBMClassifier",
                                        "serialization_format": "cloudpickle"}}}  # fmt: skip
    response = _post(api, "wrapper", _handwritten(tmp_path, wrapper, {"model.pkl": b"\x80\x04."}))
    assert response.status_code == 422 and "booster_" in response.json()["detail"]
    X, y = _table()
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), num_boost_round=3)
    bare = {"flavors": {"lightgbm": {"data": "model.lgb", "model_class": "lightgbm.basic.Booster"}}}
    data = _handwritten(tmp_path, bare, {"model.lgb": booster.model_to_string().encode()})
    response = _post(api, "bare", data)
    assert response.status_code == 422 and "no signature" in response.json()["detail"]
    schema = [{"name": c, "type": "numeric"} for c in COLUMNS]
    assert _post(api, "bare", data, input_schema=json.dumps(schema)).status_code == 201
    climbing = io.BytesIO()
    with zipfile.ZipFile(climbing, "w") as archive:
        archive.writestr("../MLmodel", "flavors: {}")
    response = _post(api, "climb", climbing.getvalue())
    assert response.status_code == 422 and "climbs out" in response.json()["detail"]
    linked = io.BytesIO()
    with tarfile.open(fileobj=linked, mode="w:gz") as archive:
        link = tarfile.TarInfo("model/MLmodel")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    response = _post(api, "link", linked.getvalue(), filename="m.tar.gz")
    assert response.status_code == 422 and "not a plain file" in response.json()["detail"]
    assert _post(api, "junk", b"not an archive").status_code == 422
    for name in ("custom", "wrapper", "climb", "link", "junk"):
        _nothing_stored(api, name)


def test_xgboost_flavour(api: Api, tmp_path: Path) -> None:
    """Without xgboost on the server the upload is refused with what to do; with it, it round trips."""
    try:
        import xgboost as xgb
    except ImportError:
        mlmodel = {"flavors": {"xgboost": {"data": "model.ubj", "model_format": "ubj"}}}
        schema = json.dumps([{"name": c, "type": "numeric"} for c in COLUMNS])
        upload = _handwritten(tmp_path, mlmodel, {"model.ubj": b"{"})
        response = _post(api, "xgb", upload, input_schema=schema)
        assert response.status_code == 422 and "xgboost-cpu" in response.json()["detail"]
        _nothing_stored(api, "xgb")
        return
    import mlflow.xgboost

    X, y = _table()
    params = {"objective": "binary:logistic", "max_depth": 3}
    booster = xgb.train(params, xgb.DMatrix(X, y), num_boost_round=10)
    mlflow.xgboost.save_model(
        booster, str(tmp_path / "xgb"), signature=_signature(), model_format="ubj", pip_requirements=PIP
    )
    answer = _post(api, "xgb", _zip(tmp_path / "xgb"))
    assert answer.status_code == 201, answer.text
    rows, _ = _table(20, seed=4)
    answers = _predict(api, "xgb", rows.to_dict("records"))
    expected = booster.predict(xgb.DMatrix(rows))
    np.testing.assert_allclose([a["probabilities"]["1"] for a in answers], expected, atol=1e-6)

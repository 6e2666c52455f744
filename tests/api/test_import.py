"""Importing model files made elsewhere: LightGBM text, skops, ONNX; pickles and bad files refused."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pytest

Api = Any
SCHEMA = [
    {"name": "speed", "type": "numeric"},
    {"name": "torque", "type": "numeric"},
    {"name": "kind", "type": "categorical", "categories": ["L", "M", "H"]},
]
RECORD = {"speed": 0.5, "torque": -0.2, "kind": "H"}


def _xy(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(0, 3, n)]).astype(float)
    y = ((X[:, 0] + X[:, 1] + (X[:, 2] == 2)) > 0.5).astype(int)
    return X, y


def _lightgbm() -> bytes:
    import lightgbm as lgb

    X, y = _xy()
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=20)
    return booster.model_to_string().encode()


def _sklearn() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    X, y = _xy()
    return RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)


def _skops(model: Any) -> bytes:
    import skops.io

    return skops.io.dumps(model)


def _onnx() -> bytes:
    from skl2onnx import to_onnx

    X, _ = _xy()
    onx = to_onnx(_sklearn(), X[:1].astype(np.float32), options={"zipmap": False}, target_opset=17)
    return onx.SerializeToString()


def _post(api: Api, name: str, data: bytes, fmt: str, filename: str = "model.bin", **extra: Any) -> Any:
    form = {"format": fmt, "task": "tabular_classification", "input_schema": json.dumps(SCHEMA), **extra}
    return api.client.post(
        f"/v1/models/{name}/versions",
        headers=api.headers("builder"),
        data=form,
        files={"file": (filename, data, "application/octet-stream")},
    )


@pytest.mark.parametrize(
    ("fmt", "make"), [("lightgbm", _lightgbm), ("skops", lambda: _skops(_sklearn())), ("onnx", _onnx)]
)
def test_import_promote_predict(api: Api, fmt: str, make: Any) -> None:
    response = _post(api, "imported", make(), fmt)
    assert response.status_code == 201, response.text
    version = response.json()
    assert version["report"]["imported"] and version["report"]["format"] == fmt
    assert version["task"] == "imported_classification" and version["lineage"]["imported_by"]
    promoted = api.client.put(
        "/v1/models/imported/aliases/production", json={"version": 1}, headers=api.headers("builder")
    )
    assert promoted.status_code == 200, promoted.text
    h = api.headers("consumer")
    predicted = api.client.post("/v1/models/imported/predict", json={"records": [RECORD]}, headers=h)
    assert predicted.status_code == 200, predicted.text
    p = predicted.json()["predictions"][0]
    assert p["label"] in (0, 1) and abs(sum(p["probabilities"].values()) - 1) < 1e-6
    explained = api.client.post("/v1/models/imported/explain", json={"records": [RECORD]}, headers=h)
    if fmt == "onnx":
        assert explained.status_code == 422 and "LightGBM or tree" in explained.json()["detail"]
    else:
        assert explained.status_code == 200, explained.text
        e = explained.json()["explanations"][0]
        assert set(e["contributions"]) == {"speed", "torque", "kind"}
        assert abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) < 1e-6


def _nothing_stored(api: Api) -> None:
    assert api.platform.store.list_models("default") == []
    assert api.files_under("default", "models") == []


def test_pickle_is_refused(api: Api) -> None:
    response = _post(api, "bad", pickle.dumps(_sklearn()), "skops")
    assert response.status_code == 422 and "pickle can run arbitrary code" in response.json()["detail"]
    named = _post(api, "bad", b"whatever", "skops", filename="model.joblib")
    assert named.status_code == 422 and "pickle" in named.json()["detail"]
    _nothing_stored(api)


def test_untrusted_skops_type_is_refused(api: Api) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _xy()
    response = _post(api, "bad", _skops(KNeighborsClassifier().fit(X, y)), "skops")
    assert response.status_code == 422 and "KDTree" in response.json()["detail"]
    _nothing_stored(api)


@pytest.mark.parametrize("fmt", ["lightgbm", "skops", "onnx"])
def test_corrupt_file_is_refused(api: Api, fmt: str) -> None:
    response = _post(api, "bad", b"not a model at all \x00\x01", fmt)
    assert response.status_code == 422, response.text
    _nothing_stored(api)


def test_wrong_schema_and_roles(api: Api) -> None:
    assert _post(api, "bad", _lightgbm(), "lightgbm", input_schema="[]").status_code == 422
    wrong = [{"name": "speed", "type": "numeric"}]
    response = _post(api, "bad", _lightgbm(), "lightgbm", input_schema=json.dumps(wrong))
    assert response.status_code == 422 and "features" in response.json()["detail"]
    consumer = api.client.post(
        "/v1/models/bad/versions",
        headers=api.headers("consumer"),
        data={"format": "lightgbm", "task": "tabular_classification", "input_schema": json.dumps(SCHEMA)},
        files={"file": ("m.txt", _lightgbm(), "text/plain")},
    )
    assert consumer.status_code == 403
    _nothing_stored(api)

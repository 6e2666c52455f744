"""The ONNX export of tabular models answers as Shopfloor does, run by plain onnxruntime on raw columns.

Every candidate family (linear, random forest, LightGBM) of every kind (binary with a tuned threshold,
multiclass, regression), on a few hundred AI4I rows with constructed features, a boolean column,
missing values and an unseen category; and one estimator trained end to end by AutoML.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from onnx_feeds import run_onnx
from shopfloor.errors import Conflict
from shopfloor.tasks.tabular.estimator import TabularEstimator
from shopfloor.tasks.tabular.features import Preprocessor, feature_name
from shopfloor.tasks.tabular.models import TabularModel, make_model
from shopfloor.tasks.tabular.onnx_export import lightgbm_trees, to_onnx

TARGETS = {"binary": "Machine failure", "multiclass": "Type", "regression": "Torque [Nm]"}
FAMILIES = ("linear", "random_forest", "lightgbm")
SMALL = {"n_estimators": 25, "min_data_in_leaf": 5, "num_leaves": 7}
CONSTRUCTED = [
    ("diff", "Process temperature [K]", "Air temperature [K]"),
    ("product", "Rotational speed [rpm]", "Tool wear [min]"),
    ("ratio", "Tool wear [min]", "Rotational speed [rpm]"),
]


@pytest.fixture(scope="module")
def table(ai4i_path: Path) -> pd.DataFrame:
    whole = pd.read_csv(ai4i_path, encoding="utf-8-sig")
    failed = whole["Machine failure"] == 1
    picked = pd.concat([whole[failed].head(60), whole[~failed].head(300)])
    dropped = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
    frame = picked.drop(columns=dropped).reset_index(drop=True)
    frame["Coolant on"] = np.arange(len(frame)) % 3 == 0
    return frame


def _inputs(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows to score: the table's inputs with missing numbers, booleans and categories, an unseen
    category, a zero divisor and a tool-wear string where a number goes."""
    X = frame.drop(columns=[target]).head(120).copy()
    X["Coolant on"] = X["Coolant on"].astype(object)
    numeric = [c for c in X.columns if c not in ("Type", "Coolant on")]
    for i, col in enumerate(numeric):
        X.loc[X.index[i], col] = np.nan
    X.loc[X.index[10], "Rotational speed [rpm]"] = 0.0
    X.loc[X.index[11], "Coolant on"] = None
    if "Type" in X:
        X.loc[X.index[12], "Type"] = "Z"
        X.loc[X.index[13], "Type"] = None
    return X


def direct(frame: pd.DataFrame, kind: str, family: str) -> TabularEstimator:
    """A fitted estimator of one family, built without the search (as fit would leave it)."""
    target = TARGETS[kind]
    task = "regression" if kind == "regression" else "classification"
    est = TabularEstimator(kind=task, seed=0)
    types = {c: "numeric" for c in frame.columns if c not in (target, "Type", "Coolant on")}
    types.update({c: t for c, t in (("Type", "categorical"), ("Coolant on", "boolean")) if c != target})
    constructed = [{"name": feature_name(op, a, b), "op": op, "sources": [a, b]} for op, a, b in CONSTRUCTED]
    constructed = [f for f in constructed if target not in f["sources"]]
    est.pre_ = Preprocessor.fit(frame, types).with_constructed(constructed)
    y, est.classes_ = est._encode_target(frame[target])
    est.model_ = make_model(family, task, len(est.classes_), SMALL, 0).fit(est.pre_.transform(frame), y)
    est.threshold_ = 0.3 if kind == "binary" else None
    est.input_schema_ = est.pre_.input_schema()
    est.background_, est.report_ = np.zeros((0, len(est.pre_.inputs))), {}
    return est


def onnx_answers(model: bytes, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """Plain onnxruntime on the raw columns: numbers as float64 (NaN missing), categories as strings."""
    return run_onnx(model, X.astype(object).to_dict("records"))


def assert_same(est: TabularEstimator, X: pd.DataFrame) -> None:
    """The graph of the estimator as served (loaded back from its artifact) answers as it does."""
    out = onnx_answers(TabularEstimator.load(est.save()).to_onnx(), X)
    records = est.predict(X.to_dict("records"))
    frame = est.predict_frame(X)
    if est.kind == "regression":
        expected = np.array([r["value"] for r in records])
        np.testing.assert_allclose(out["prediction"], expected, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(frame["prediction"].to_numpy(float), expected, rtol=1e-9)
        return
    assert out["prediction"].tolist() == [r["label"] for r in records]
    for c in est.classes_:
        expected = np.array([r["probabilities"][str(c)] for r in records])
        np.testing.assert_allclose(out[f"proba_{c}"], expected, atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", list(TARGETS))
def test_every_family_and_kind_answers_as_shopfloor(table: pd.DataFrame, kind: str, family: str) -> None:
    est = direct(table, kind, family)
    assert_same(est, _inputs(table, TARGETS[kind]))


def test_binary_labels_follow_the_tuned_threshold(table: pd.DataFrame) -> None:
    est = direct(table, "binary", "lightgbm")
    X = _inputs(table, TARGETS["binary"])
    p1 = onnx_answers(est.to_onnx(), X)["proba_1"]
    between = (p1 >= 0.3) & (p1 < 0.5)
    assert between.any(), "the sample should hold rows between the threshold and 0.5"
    assert (onnx_answers(est.to_onnx(), X)["prediction"][between] == 1).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_a_probability_exactly_at_the_threshold_keeps_its_label(table: pd.DataFrame, family: str) -> None:
    """A forest's probabilities are multiples of 1/trees and the tuned threshold is one of them: the
    graph's sums must be as exact as the library's for the label to agree."""
    est = direct(table, "binary", family)
    X = _inputs(table, TARGETS["binary"])
    p1 = est.predict_frame(X)["proba_1"].to_numpy()
    est.threshold_ = float(np.sort(p1)[-5])  # a probability some row has exactly
    assert_same(est, X)


def test_a_model_trained_by_automl_exports(table: pd.DataFrame) -> None:
    est = TabularEstimator(time_budget_s=3, seed=0).fit(table, TARGETS["binary"])
    assert_same(est, _inputs(table, TARGETS["binary"]))
    inputs = [i.name for i in ort.InferenceSession(est.to_onnx()).get_inputs()]
    assert est.report_["features"]["inputs"] == inputs


def test_metadata_and_output_names(table: pd.DataFrame) -> None:
    import onnx

    est = direct(table, "multiclass", "linear")
    model = onnx.load_model_from_string(est.to_onnx({"shopfloor_model": "press"}))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["shopfloor_model"] == "press"
    assert [o.name for o in model.graph.output] == ["proba_H", "proba_L", "proba_M", "prediction"]
    assert [i.name for i in model.graph.input] == [c["name"] for c in est.input_schema_]


def test_lightgbm_categorical_splits_are_refused() -> None:
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 4, 200), rng.normal(size=200)])
    y = (X[:, 0] == 2).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 5, "min_data_per_group": 5},
        lgb.Dataset(X, y, categorical_feature=[0]),
        num_boost_round=3,
    )
    with pytest.raises(Conflict, match="categorical"):
        lightgbm_trees(booster)


def test_an_unknown_family_is_refused(table: pd.DataFrame) -> None:
    est = direct(table, "binary", "linear")

    class Other(TabularModel):
        family = "other"

    with pytest.raises(Conflict, match="'other' family"):
        to_onnx(est.pre_, Other("classification", 2, {}), est.classes_, None)

"""TabularEstimator behaviour on small synthetic tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import InvalidInput, JobCancelled
from shopfloor.tasks.tabular.estimator import ARTIFACT_FILES, TabularEstimator


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Air temperature [K]": rng.normal(300, 2, n),
            "Torque [Nm]": rng.normal(40, 10, n),
            "Type": rng.choice(["L", "M", "H"], n),
            "serial": [f"S{i}" for i in range(n)],
        }
    )
    frame["label"] = np.where(frame["Torque [Nm]"] + 5 * (frame["Type"] == "H") > 48, "bad", "ok")
    return frame


@pytest.fixture(scope="module")
def est() -> TabularEstimator:
    return TabularEstimator(time_budget_s=10).fit(_frame(), "label")


def test_report_contents(est: TabularEstimator) -> None:
    r = est.report_
    assert r["task"] == "tabular_classification" and r["classes"] == ["bad", "ok"]
    assert {"accuracy", "f1", "roc_auc", "pr_auc", "brier", "confusion_matrix"} <= set(r["metrics"])
    assert r["metrics"]["f1"] > 0.8
    assert 0 < r["threshold"] < 1
    assert sum(c["chosen"] for c in r["candidates"]) == 1
    assert {"linear", "random_forest", "lightgbm"} <= {c["family"] for c in r["candidates"]}
    assert r["features"]["dropped"] == [
        {"name": "serial", "reason": "column typed id is not used by tabular models"}
    ]
    assert r["stability"]["n"] == 5 and len(r["stability"]["metrics"]["f1"]["values"]) == 5
    assert r["n_train"] + r["n_test"] == 400
    types = {c["name"]: c["type"] for c in est.input_schema_}
    assert types == {"Air temperature [K]": "numeric", "Torque [Nm]": "numeric", "Type": "categorical"}


def test_predict_warns_on_unseen_and_missing(est: TabularEstimator) -> None:
    (out,) = est.predict([{"Air temperature [K]": None, "Torque [Nm]": 80.0, "Type": "X"}])
    assert out["label"] == "bad"
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-9
    assert any("unseen category 'X'" in w for w in out["warnings"])


def test_predict_frame_matches_predict(est: TabularEstimator) -> None:
    frame = _frame(30, seed=1).drop(columns=["label"])
    batch = est.predict_frame(frame)
    single = est.predict(frame.to_dict("records"))
    assert list(batch["prediction"]) == [p["label"] for p in single]
    assert np.allclose(batch["proba_bad"], [p["probabilities"]["bad"] for p in single])


def test_shap_is_additive_and_lime_runs(est: TabularEstimator) -> None:
    records = _frame(5, seed=2).drop(columns=["label"]).to_dict("records")
    for e in est.explain(records):
        assert set(e["contributions"]) == {"Air temperature [K]", "Torque [Nm]", "Type"}
        assert abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) < 1e-6
        assert e["class"] == "ok"
    lime = est.explain(records[:1], method="lime")
    assert lime[0]["method"] == "lime" and set(lime[0]["contributions"]) == {
        "Air temperature [K]",
        "Torque [Nm]",
        "Type",
    }
    with pytest.raises(InvalidInput):
        est.explain(records, method="nope")


def test_rules_and_artifact_names(est: TabularEstimator) -> None:
    rules = est.rules()
    assert rules["fidelity"] >= 0.9 and rules["rules"]
    assert all(r["prediction"] in ("bad", "ok") for r in rules["rules"])
    assert set(est.save()) <= set(ARTIFACT_FILES)


@pytest.mark.parametrize("family", ["linear", "random_forest"])
def test_every_family_round_trips(family: str) -> None:
    frame = _frame(200)
    est = TabularEstimator(time_budget_s=5).fit(frame, "label")
    from shopfloor.tasks.tabular.models import make_model

    # swap in the family under test and check save/load and additivity for it
    X = est.pre_.transform(frame)
    y = (frame["label"] == "ok").astype(int).to_numpy()
    est.model_ = make_model(family, "classification", 2, {"n_estimators": 20}, 0).fit(X, y)
    again = TabularEstimator.load(est.save())
    records = frame.drop(columns=["label"]).head(10).to_dict("records")
    assert again.predict(records) == est.predict(records)
    for e in again.explain(records):
        assert abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) < 1e-6


def test_regression_and_multiclass() -> None:
    frame = _frame(300)
    frame["y"] = frame["Torque [Nm]"] * 2 + frame["Air temperature [K]"]
    reg = TabularEstimator(kind="regression", time_budget_s=5).fit(frame.drop(columns=["label"]), "y")
    assert reg.task == "tabular_regression" and reg.report_["metrics"]["r2"] > 0.9
    assert isinstance(reg.predict([{"Torque [Nm]": 40}])[0]["value"], float)
    frame["grade"] = pd.cut(frame["Torque [Nm]"], [-np.inf, 35, 45, np.inf], labels=["a", "b", "c"]).astype(
        str
    )
    multi = TabularEstimator(time_budget_s=5).fit(frame.drop(columns=["label", "y"]), "grade")
    assert multi.report_["threshold"] is None and len(multi.report_["metrics"]["confusion_matrix"]) == 3
    e = multi.explain([{"Torque [Nm]": 50.0}])[0]
    assert e["class"] == "c" and abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) < 1e-6


def test_errors_and_cancellation() -> None:
    with pytest.raises(InvalidInput):
        TabularEstimator().fit(_frame(), "missing")
    with pytest.raises(InvalidInput):
        TabularEstimator(metric="bogus").fit(_frame(), "label")

    def cancel(fraction: float, stage: str, message: str) -> None:
        if stage == "model selection":
            raise JobCancelled("stop")

    with pytest.raises(JobCancelled):
        TabularEstimator(time_budget_s=5).fit(_frame(), "label", progress=cancel)

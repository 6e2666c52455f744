"""Surrogate rules."""

from __future__ import annotations

import numpy as np

from shopfloor.explain.rules import surrogate_rules


def test_rules_recover_a_simple_model() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(0, 100, 1000), rng.integers(0, 2, 1000)])
    model = ((X[:, 0] > 60) & (X[:, 1] == 1)).astype(int)
    out = surrogate_rules(
        X[:800],
        model[:800],
        model[:800],
        ["Torque [Nm]", "Type = H"],
        ["numeric", "onehot"],
        X[800:],
        model[800:],
        class_labels=["ok", "fail"],
    )
    assert out["fidelity"] >= 0.99 and out["depth"] <= 3
    fail = [r for r in out["rules"] if r["prediction"] == "fail"]
    assert len(fail) == 1
    assert "Torque [Nm] > 6" in fail[0]["rule"] and "Type = H" in fail[0]["rule"]
    assert fail[0]["precision"] == 1.0 and fail[0]["model_agreement"] == 1.0
    assert sum(r["support"] for r in out["rules"]) == 800


def test_regression_rules_use_r2() -> None:
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (500, 1))
    pred = np.where(X[:, 0] > 0.5, 10.0, 0.0)
    out = surrogate_rules(
        X[:400], pred[:400], pred[:400], ["x"], ["numeric"], X[400:], pred[400:], kind="regression"
    )
    assert out["fidelity_metric"] == "r2" and out["fidelity"] > 0.95
    assert {r["prediction"] for r in out["rules"]} == {0.0, 10.0}

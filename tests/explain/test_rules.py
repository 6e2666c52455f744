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
        y_true_holdout=model[800:],
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


def test_precision_and_model_agreement_differ_on_held_out_rows() -> None:
    """Precision compares the rule with the true labels, agreement with the model's predictions,
    both on hold-out rows (on training rows a model mostly repeats its labels)."""
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 100, (1500, 1))
    model = (X[:, 0] > 60).astype(int)  # the model flags from 60 on ...
    truth = (X[:, 0] > 80).astype(int)  # ... but parts fail only from 80 on
    out = surrogate_rules(
        X[:1000], model[:1000], model[:1000], ["x"], ["numeric"], X[1000:], model[1000:],
        y_true_holdout=truth[1000:], class_labels=["ok", "fail"],
    )
    fail = [r for r in out["rules"] if r["prediction"] == "fail"]
    assert len(fail) == 1 and fail[0]["rule"].startswith("x > ")
    assert fail[0]["model_agreement"] == 1.0
    assert 0.35 < fail[0]["precision"] < 0.65  # about half of x in (60, 100] is over 80
    assert fail[0]["holdout_support"] == int(np.sum(X[1000:, 0] > 60))
    assert sum(r["holdout_support"] for r in out["rules"]) == 500


def test_without_held_out_truth_precision_is_unknown() -> None:
    X = np.arange(200, dtype=float).reshape(-1, 1)
    model = (X[:, 0] > 99.5).astype(int)
    out = surrogate_rules(X[::2], model[::2], model[::2], ["x"], ["numeric"], X[1::2], model[1::2])
    assert all(r["precision"] is None and r["model_agreement"] == 1.0 for r in out["rules"])


def test_rare_class_gets_rules_until_balanced_fidelity_holds() -> None:
    """A 2 % class in a corner the root splits do not isolate: the surrogate grows (or weighs
    the classes) until the per-class agreement reaches 0.9, and says so."""
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (6000, 4))
    model = ((X[:, 0] > 0.8) & (X[:, 1] > 0.8) & (X[:, 2] > 0.5)).astype(int)
    out = surrogate_rules(
        X[:5000], model[:5000], model[:5000], list("abcd"), ["numeric"] * 4, X[5000:], model[5000:],
        y_true_holdout=model[5000:], class_labels=["ok", "fail"],
    )
    assert out["balanced_fidelity"] >= 0.9 and out["undescribed_classes"] == []
    assert set(out["per_class_fidelity"]) == {"ok", "fail"}
    assert out["n_leaves"] <= 48


def test_a_class_the_rules_cannot_describe_is_named() -> None:
    """Noise the tree cannot follow at the allowed size: the class is reported, not hidden."""
    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, (3000, 2))
    model = (rng.uniform(0, 1, 3000) < 0.05).astype(int)  # unrelated to the inputs
    out = surrogate_rules(
        X[:2000], model[:2000], model[:2000], ["a", "b"], ["numeric"] * 2, X[2000:], model[2000:],
        class_labels=["ok", "fail"], max_depth=4,
    )
    assert out["balanced_fidelity"] < 0.9
    assert "fail" in out["undescribed_classes"]

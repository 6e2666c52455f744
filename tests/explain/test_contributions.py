"""Contribution helpers: exact linear SHAP, attribution to inputs, tree SHAP, LIME."""

from __future__ import annotations

import numpy as np

from shopfloor.explain.contributions import (
    attribute_to_inputs,
    lime_weights,
    linear_contributions,
    tree_shap_contributions,
)


def test_linear_contributions_are_additive() -> None:
    Z = np.array([[1.0, -2.0], [0.5, 0.0]])
    coef = np.array([[2.0, 1.0], [2.0, 1.0]])
    base, contrib, out = linear_contributions(coef, np.array([0.5, 0.5]), Z)
    assert np.allclose(contrib, [[2.0, -2.0], [1.0, 0.0]]) and np.allclose(out, [0.5, 1.5])


def test_attribution_splits_constructed_and_sums_one_hot() -> None:
    columns = [
        {"name": "a", "sources": ["a"], "kind": "numeric"},
        {"name": "b", "sources": ["b"], "kind": "numeric"},
        {"name": "a * b", "sources": ["a", "b"], "kind": "constructed"},
        {"name": "T = L", "sources": ["T"], "kind": "onehot"},
        {"name": "T = H", "sources": ["T"], "kind": "onehot"},
    ]
    contrib = np.array([[1.0, 2.0, 4.0, 0.5, -0.25]])
    ((inputs, cons),) = attribute_to_inputs(contrib, columns, ["a", "b", "T", "unused"])
    assert inputs == {"a": 3.0, "b": 4.0, "T": 0.25, "unused": 0.0}
    assert cons == {"a * b": 4.0}
    assert sum(inputs.values()) == contrib.sum()


def test_tree_shap_for_forest_is_additive() -> None:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    rf = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    base, contrib, out = tree_shap_contributions(rf, X[:5], np.ones(5, dtype=int))
    assert np.abs(base + contrib.sum(axis=1) - out).max() < 1e-6


def test_lime_weights_name_every_feature() -> None:
    rng = np.random.default_rng(0)
    bg = rng.normal(size=(100, 2))

    def predict(data: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-3 * data[:, 0]))
        return np.column_stack([1 - p, p])

    (res,) = lime_weights(predict, bg, bg[:1], ["x", "y"], class_index=[1], num_samples=300)
    assert set(res["weights"]) == {"x", "y"} and abs(res["weights"]["x"]) > abs(res["weights"]["y"])

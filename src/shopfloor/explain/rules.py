"""Readable rules from a surrogate decision tree fitted to a model's own predictions.

The surrogate sees the inputs in human units (numeric values, booleans as 0/1,
categoricals one-hot named ``"Type = L"``) and learns the *model's* predictions, so
its rules describe what the model does; fidelity says how faithfully (agreement on
held-out rows for classification, R^2 for regression). Only the rules are kept (JSON).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.6g}"


def _render(conditions: list[tuple[str, str, float]], kinds: dict[str, str]) -> str:
    """Merge conditions on the same feature (keep the tightest bound) and write them out."""
    lower: dict[str, float] = {}
    upper: dict[str, float] = {}
    order: list[str] = []
    for name, op, thr in conditions:
        if name not in order:
            order.append(name)
        if op == ">":
            lower[name] = max(lower.get(name, -np.inf), thr)
        else:
            upper[name] = min(upper.get(name, np.inf), thr)
    parts = []
    for name in order:
        kind = kinds.get(name, "numeric")
        if kind == "onehot":
            col, _, cat = name.partition(" = ")
            parts.append(name if name in lower else f"{col} != {cat}")
        elif kind == "boolean":
            parts.append(f"{name} = {'true' if name in lower else 'false'}")
        elif name in lower and name in upper:
            parts.append(f"{_fmt(lower[name])} < {name} <= {_fmt(upper[name])}")
        elif name in lower:
            parts.append(f"{name} > {_fmt(lower[name])}")
        else:
            parts.append(f"{name} <= {_fmt(upper[name])}")
    return " and ".join(parts) if parts else "always"


def surrogate_rules(
    X: np.ndarray,
    model_pred: np.ndarray,
    y_true: np.ndarray,
    feature_names: Sequence[str],
    feature_kinds: Sequence[str],
    X_holdout: np.ndarray,
    model_pred_holdout: np.ndarray,
    *,
    kind: str = "classification",
    class_labels: Sequence[Any] | None = None,
    min_depth: int = 3,
    max_depth: int = 6,
    target_fidelity: float = 0.95,
    target_balanced: float = 0.85,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit a shallow tree to the model's predictions and turn its leaves into rules.

    ``model_pred`` are the model's class indices (classification, at its tuned
    threshold) or values (regression) for the rows of ``X``; ``y_true`` the true
    targets (class indices or values). The depth grows from ``min_depth`` until the
    hold-out fidelity reaches ``target_fidelity`` (and, for classification, the mean
    per-class agreement reaches ``target_balanced``) or ``max_depth``. Returns
    ``{"rules": [...], "fidelity", "balanced_fidelity", "depth", "n_leaves", "fidelity_metric"}``;
    each rule has
    ``rule``, ``prediction``, ``support``, ``support_fraction`` and, for classification,
    ``precision`` (true labels equal to the prediction) and ``model_agreement``, for
    regression ``true_mean`` and ``model_mean``.
    """
    from sklearn.metrics import r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    n = len(X)
    # Small leaves are allowed so that rare outcomes (failures) get rules of their own.
    min_leaf = max(3, int(0.001 * n))
    classify = kind == "classification"
    tree: Any = None
    fidelity = balanced = float("nan")
    depth = min_depth
    for depth in range(min_depth, max_depth + 1):
        if classify:
            tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=min_leaf, random_state=seed)
        else:
            tree = DecisionTreeRegressor(max_depth=depth, min_samples_leaf=min_leaf, random_state=seed)
        tree.fit(X, model_pred)
        surrogate = tree.predict(X_holdout)
        if classify:
            fidelity = float(np.mean(surrogate == model_pred_holdout)) if len(X_holdout) else float("nan")
            # Plain agreement flatters rules on imbalanced data (always "no failure" agrees 97 %
            # on AI4I): also ask for agreement within each class the model predicts.
            balanced = _balanced_agreement(model_pred_holdout, surrogate)
            if fidelity >= target_fidelity and balanced >= target_balanced:
                break
        else:
            fidelity = float(r2_score(model_pred_holdout, surrogate)) if len(X_holdout) > 1 else float("nan")
            if fidelity >= target_fidelity:
                break
    assert tree is not None
    kinds = dict(zip(feature_names, feature_kinds, strict=True))
    leaves = tree.apply(X)
    rules = []
    for leaf, conditions in _paths(tree.tree_, list(feature_names)):
        mask = leaves == leaf
        support = int(mask.sum())
        if support == 0:
            continue
        value = tree.tree_.value[leaf][0]
        rule: dict[str, Any] = {
            "rule": _render(conditions, kinds),
            "support": support,
            "support_fraction": round(support / n, 6),
        }
        if classify:
            k = int(tree.classes_[int(np.argmax(value))])
            rule["prediction"] = class_labels[k] if class_labels is not None else k
            rule["precision"] = round(float(np.mean(y_true[mask] == k)), 6)
            rule["model_agreement"] = round(float(np.mean(model_pred[mask] == k)), 6)
        else:
            rule["prediction"] = float(value[0])
            rule["true_mean"] = float(np.mean(y_true[mask]))
            rule["model_mean"] = float(np.mean(model_pred[mask]))
        rules.append(rule)
    rules.sort(key=lambda r: -r["support"])
    return {
        "rules": rules,
        "fidelity": fidelity,
        "balanced_fidelity": balanced if classify else None,
        "fidelity_metric": "agreement" if classify else "r2",
        "depth": int(tree.get_depth()),
        "n_leaves": int(tree.get_n_leaves()),
    }


def _balanced_agreement(model_pred: np.ndarray, surrogate: np.ndarray) -> float:
    """Mean over the classes the model predicts of the surrogate's agreement on that class."""
    if len(model_pred) == 0:
        return float("nan")
    per_class = [float(np.mean(surrogate[model_pred == c] == c)) for c in np.unique(model_pred)]
    return float(np.mean(per_class))


def _paths(tree: Any, names: list[str]) -> list[tuple[int, list[tuple[str, str, float]]]]:
    """(leaf id, conditions on the way there) for every leaf of an sklearn ``tree_``."""
    out: list[tuple[int, list[tuple[str, str, float]]]] = []
    stack: list[tuple[int, list[tuple[str, str, float]]]] = [(0, [])]
    while stack:
        node, conds = stack.pop()
        left, right = tree.children_left[node], tree.children_right[node]
        if left == right:  # leaf
            out.append((node, conds))
            continue
        name, thr = names[tree.feature[node]], float(tree.threshold[node])
        stack.append((right, [*conds, (name, ">", thr)]))
        stack.append((left, [*conds, (name, "<=", thr)]))
    return out

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


#: the largest surrogate tried, and the most rules (leaves) it may have: more would not be read
MAX_DEPTH = 8
MAX_RULES = 48


def surrogate_rules(
    X: np.ndarray,
    model_pred: np.ndarray,
    y_true: np.ndarray,
    feature_names: Sequence[str],
    feature_kinds: Sequence[str],
    X_holdout: np.ndarray,
    model_pred_holdout: np.ndarray,
    *,
    y_true_holdout: np.ndarray | None = None,
    kind: str = "classification",
    class_labels: Sequence[Any] | None = None,
    min_depth: int = 3,
    max_depth: int = MAX_DEPTH,
    max_rules: int = MAX_RULES,
    target_fidelity: float = 0.95,
    target_balanced: float = 0.9,
    seed: int = 0,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Fit a small tree to the model's predictions and turn its leaves into rules.

    ``model_pred`` are the model's class indices (classification, at its tuned
    threshold) or values (regression) for the rows of ``X``; ``y_true`` the true
    targets (class indices or values); ``*_holdout`` the same for rows the model did not
    learn from. Surrogates grow from ``min_depth`` to ``max_depth`` (at most ``max_rules``
    leaves), first unweighted, then (classification) with class-balanced weights; the
    first whose hold-out fidelity reaches ``target_fidelity`` and, for classification,
    whose mean per-class agreement reaches ``target_balanced`` is kept, else the one with
    the best sum of the two. Returns ``{"rules": [...], "fidelity", "balanced_fidelity",
    "per_class_fidelity", "undescribed_classes", "depth", "n_leaves", "fidelity_metric"}``.

    Each rule has ``rule``, ``prediction``, ``support`` and ``support_fraction`` (rows of
    ``X`` it covers) and ``holdout_support`` (hold-out rows it covers). The statistics are
    computed on the hold-out rows, where the model's predictions are not its memory of the
    training labels: for classification ``precision`` (share of covered rows whose TRUE
    label is the rule's class) and ``model_agreement`` (share where the MODEL predicts the
    rule's class); for regression ``true_mean`` and ``model_mean``. Without hold-out truth
    (``y_true_holdout`` None) or covered hold-out rows they are ``None``.

    With a ``deadline`` (a ``time.perf_counter`` value) no larger surrogate is tried after it;
    the result then says ``"stopped": True``.
    """
    n = len(X)
    # Small leaves are allowed so that rare outcomes (failures) get rules of their own.
    min_leaf = max(3, int(0.001 * n))
    classify = kind == "classification"
    tree, fidelity, balanced, per_class, stopped = _grow(
        X, model_pred, X_holdout, model_pred_holdout, classify=classify, min_leaf=min_leaf,
        depths=range(min_depth, max(min_depth, max_depth) + 1), max_rules=max_rules,
        target_fidelity=target_fidelity, target_balanced=target_balanced, seed=seed,
        deadline=deadline,
    )
    rules = _leaf_rules(
        tree, X, X_holdout, model_pred_holdout, y_true_holdout, feature_names, feature_kinds,
        classify=classify, class_labels=class_labels,
    )
    out = _summary(tree, rules, fidelity, balanced, per_class, classify, class_labels, target_balanced)
    if stopped:
        out["stopped"] = True
    return out


def _leaf_rules(
    tree: Any,
    X: np.ndarray,
    X_holdout: np.ndarray,
    model_pred_holdout: np.ndarray,
    y_true_holdout: np.ndarray | None,
    feature_names: Sequence[str],
    feature_kinds: Sequence[str],
    *,
    classify: bool,
    class_labels: Sequence[Any] | None,
) -> list[dict[str, Any]]:
    """One rule per leaf that covers rows of ``X``, with its hold-out statistics, largest first."""
    n = len(X)
    kinds = dict(zip(feature_names, feature_kinds, strict=True))
    leaves = tree.apply(X)
    leaves_holdout = tree.apply(X_holdout) if len(X_holdout) else np.empty(0, dtype=int)
    rules = []
    for leaf, conditions in _paths(tree.tree_, list(feature_names)):
        mask = leaves == leaf
        support = int(mask.sum())
        if support == 0:
            continue
        held = leaves_holdout == leaf
        value = tree.tree_.value[leaf][0]
        rule: dict[str, Any] = {
            "rule": _render(conditions, kinds),
            "support": support,
            "support_fraction": round(support / n, 6),
            "holdout_support": int(held.sum()),
        }
        truth = y_true_holdout[held] if y_true_holdout is not None and held.any() else None
        if classify:
            k = int(tree.classes_[int(np.argmax(value))])
            rule["prediction"] = class_labels[k] if class_labels is not None else k
            rule["precision"] = None if truth is None else round(float(np.mean(truth == k)), 6)
            rule["model_agreement"] = (
                round(float(np.mean(model_pred_holdout[held] == k)), 6) if held.any() else None
            )
        else:
            rule["prediction"] = float(value[0])
            rule["true_mean"] = None if truth is None else float(np.mean(truth))
            rule["model_mean"] = float(np.mean(model_pred_holdout[held])) if held.any() else None
        rules.append(rule)
    rules.sort(key=lambda r: -r["support"])
    return rules


def _summary(
    tree: Any,
    rules: list[dict[str, Any]],
    fidelity: float,
    balanced: float,
    per_class: dict[int, float],
    classify: bool,
    class_labels: Sequence[Any] | None,
    target_balanced: float,
) -> dict[str, Any]:
    """The rules with the surrogate's fidelity (overall, balanced, per class) and its size."""
    names = {k: str(class_labels[k]) if class_labels is not None else str(k) for k in per_class}
    return {
        "rules": rules,
        "fidelity": fidelity,
        "balanced_fidelity": balanced if classify else None,
        "per_class_fidelity": {names[k]: round(v, 6) for k, v in per_class.items()} if classify else None,
        # When even the largest surrogate misses the balanced target: the classes that miss it
        # (their rules are to be read with care).
        "undescribed_classes": (
            [names[k] for k, v in per_class.items() if v < target_balanced]
            if balanced < target_balanced
            else []
        )
        if classify
        else None,
        "fidelity_metric": "agreement" if classify else "r2",
        "depth": int(tree.get_depth()),
        "n_leaves": int(tree.get_n_leaves()),
    }


def _grow(
    X: np.ndarray,
    model_pred: np.ndarray,
    X_holdout: np.ndarray,
    model_pred_holdout: np.ndarray,
    *,
    classify: bool,
    min_leaf: int,
    depths: range,
    max_rules: int,
    target_fidelity: float,
    target_balanced: float,
    seed: int,
    deadline: float | None = None,
) -> tuple[Any, float, float, dict[int, float], bool]:
    """The smallest surrogate that meets the targets on the hold-out rows, else the best one
    (the best so far once ``deadline`` has passed).

    Returns (tree, fidelity, balanced fidelity, {class index: agreement}, stopped by the deadline).
    """
    import time

    from sklearn.metrics import r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    # Plain agreement flatters rules on imbalanced data (always "no failure" agrees 97 % on
    # AI4I): per-class agreement is asked for too, and class weights are tried when depth alone
    # does not give the rare class rules of its own.
    weightings: list[str | None] = [None, "balanced"] if classify else [None]
    best: tuple[float, Any, float, float, dict[int, float]] | None = None
    for weighting in weightings:
        for depth in depths:
            if best is not None and deadline is not None and time.perf_counter() > deadline:
                return best[1], best[2], best[3], best[4], True
            tree: Any
            if classify:
                tree = DecisionTreeClassifier(
                    max_depth=depth, max_leaf_nodes=max_rules, min_samples_leaf=min_leaf,
                    class_weight=weighting, random_state=seed,
                )
            else:
                tree = DecisionTreeRegressor(
                    max_depth=depth, max_leaf_nodes=max_rules, min_samples_leaf=min_leaf, random_state=seed
                )
            tree.fit(X, model_pred)
            surrogate = tree.predict(X_holdout) if len(X_holdout) else np.empty(0)
            per_class: dict[int, float] = {}
            if classify:
                fidelity = float(np.mean(surrogate == model_pred_holdout)) if len(X_holdout) else float("nan")
                per_class = _per_class_agreement(model_pred_holdout, surrogate)
                balanced = float(np.mean(list(per_class.values()))) if per_class else float("nan")
                done = fidelity >= target_fidelity and balanced >= target_balanced
                rank = float(np.nan_to_num(fidelity) + np.nan_to_num(balanced))
            else:
                fidelity = (
                    float(r2_score(model_pred_holdout, surrogate)) if len(X_holdout) > 1 else float("nan")
                )
                balanced = float("nan")
                done = fidelity >= target_fidelity
                rank = fidelity if np.isfinite(fidelity) else -np.inf
            if done:
                return tree, fidelity, balanced, per_class, False
            if best is None or rank > best[0]:
                best = (rank, tree, fidelity, balanced, per_class)
    assert best is not None
    return best[1], best[2], best[3], best[4], False


def _per_class_agreement(model_pred: np.ndarray, surrogate: np.ndarray) -> dict[int, float]:
    """Per class the model predicts: the surrogate's agreement on the rows of that class."""
    return {int(c): float(np.mean(surrogate[model_pred == c] == c)) for c in np.unique(model_pred)}


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

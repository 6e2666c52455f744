"""Evaluation metrics for tabular models, one place for names, directions and thresholds.

Classification functions take integer labels ``y`` (indices into the class list) and a
probability matrix ``proba`` of shape ``(n, n_classes)``; regression functions take
true and predicted values. Every returned number is a plain ``float`` (JSON-ready).
sklearn is imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput

logger = logging.getLogger(__name__)

CLASSIFICATION_METRICS = ("f1", "roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
#: metrics where smaller is better (errors, losses, penalties): the one list that selection and
#: charts read for a metric's direction
LOWER_IS_BETTER = frozenset(
    {"rmse", "mae", "log_loss", "brier", "mase", "smape", "phm08_score", "phm08_per_asset"}
)
#: metrics that are sums over the scored assets, each with its mean per asset: a sum's scale grows
#: with the number of assets, so a fold's sum and the whole held-out set's are not comparable
TOTALS = {"phm08_score": "phm08_per_asset"}
#: metrics that depend on a decision threshold (the binary threshold is tuned for them)
THRESHOLD_METRICS = frozenset({"f1", "accuracy", "balanced_accuracy"})


def default_metric(kind: str, n_classes: int = 2) -> str:
    """The selection metric used when the user gives none."""
    if kind == "regression":
        return "rmse"
    return "f1"


def check_metric(kind: str, metric: str | None, n_classes: int = 2) -> str:
    """Validate ``metric`` for ``kind``; ``None`` gives the default. Raises :class:`InvalidInput`."""
    if metric is None:
        return default_metric(kind, n_classes)
    allowed = REGRESSION_METRICS if kind == "regression" else CLASSIFICATION_METRICS
    if metric not in allowed:
        raise InvalidInput(
            f"metric {metric!r} is not available for {kind}; choose one of {', '.join(allowed)}",
            errors=[{"loc": ["params", "metric"], "msg": "unknown metric"}],
        )
    return metric


def greater_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else float("nan")


def labels_at_threshold(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """Predicted class indices: positive when ``p1 >= threshold`` (binary), arg-max otherwise."""
    if proba.shape[1] == 2 and threshold is not None:
        return (proba[:, 1] >= threshold).astype(int)
    return np.asarray(proba.argmax(axis=1), dtype=int)


def score(metric: str, y: np.ndarray, pred: np.ndarray, threshold: float | None = None) -> float:
    """One metric. ``pred`` is a probability matrix (classification) or values (regression)."""
    from sklearn import metrics as skm

    if metric in REGRESSION_METRICS:
        if metric == "rmse":
            return _finite(np.sqrt(np.mean((y - pred) ** 2)))
        if metric == "mae":
            return _finite(np.mean(np.abs(y - pred)))
        return _finite(skm.r2_score(y, pred))
    n_classes = pred.shape[1]
    binary = n_classes == 2
    labels = labels_at_threshold(pred, threshold)
    if metric == "f1":
        avg = "binary" if binary else "macro"
        return _finite(
            skm.f1_score(
                y, labels, average=avg, labels=range(n_classes) if not binary else None, zero_division=0
            )
        )
    if metric == "accuracy":
        return _finite(skm.accuracy_score(y, labels))
    if metric == "balanced_accuracy":
        return _finite(_balanced_accuracy(y, labels, n_classes))
    if metric == "log_loss":
        return _finite(skm.log_loss(y, np.clip(pred, 1e-15, 1.0), labels=list(range(n_classes))))
    present = np.unique(y)
    if len(present) < 2:
        return float("nan")
    if metric == "roc_auc":
        if binary:
            return _finite(skm.roc_auc_score(y, pred[:, 1]))
        onehot = np.eye(n_classes)[y]
        cols = [k for k in range(n_classes) if 0 < onehot[:, k].sum() < len(y)]
        return _finite(np.mean([skm.roc_auc_score(onehot[:, k], pred[:, k]) for k in cols]))
    if metric == "pr_auc":
        if binary:
            return _finite(skm.average_precision_score(y, pred[:, 1]))
        onehot = np.eye(n_classes)[y]
        cols = [k for k in range(n_classes) if onehot[:, k].sum() > 0]
        return _finite(np.mean([skm.average_precision_score(onehot[:, k], pred[:, k]) for k in cols]))
    raise InvalidInput(f"unknown metric {metric!r}")


def _balanced_accuracy(y: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    recalls = [np.mean(labels[y == k] == k) for k in range(n_classes) if np.any(y == k)]
    return float(np.mean(recalls)) if recalls else float("nan")


def best_threshold(y: np.ndarray, p1: np.ndarray, metric: str = "f1") -> tuple[float, float]:
    """The threshold on ``p1`` (positive-class probability) that maximises ``metric``.

    Threshold-free metrics (roc_auc, pr_auc, log_loss) tune F1 instead. Candidates are
    the distinct predicted probabilities; each threshold is placed midway between two
    neighbouring scores so that it generalises a little better than the raw score.
    Returns ``(threshold, metric value at it)``.
    """
    target = metric if metric in THRESHOLD_METRICS else "f1"
    order = np.argsort(-p1, kind="mergesort")
    ps, ys = p1[order], y[order].astype(float)
    n, n_pos = len(ys), ys.sum()
    if n == 0 or n_pos in (0, n):
        return 0.5, float("nan")
    tp = np.cumsum(ys)
    fp = np.cumsum(1.0 - ys)
    # only cut between distinct scores
    last = np.r_[ps[1:] != ps[:-1], True]
    tp, fp, cut = tp[last], fp[last], np.flatnonzero(last)
    fn, tn = n_pos - tp, (n - n_pos) - fp
    if target == "f1":
        values = 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12)
    elif target == "accuracy":
        values = (tp + tn) / n
    else:
        values = 0.5 * (tp / n_pos + tn / (n - n_pos))
    best = int(np.argmax(values))
    i = cut[best]
    below = ps[i + 1] if i + 1 < n else 0.0
    threshold = float((ps[i] + below) / 2)
    return threshold, float(values[best])


def classification_report(
    y: np.ndarray, proba: np.ndarray, classes: list[Any], threshold: float | None = None
) -> dict[str, Any]:
    """Held-out classification metrics at ``threshold`` (binary) or arg-max (multiclass)."""
    from sklearn import metrics as skm

    n_classes = len(classes)
    binary = n_classes == 2
    labels = labels_at_threshold(proba, threshold)
    avg = "binary" if binary else "macro"
    kw: dict[str, Any] = {"average": avg, "zero_division": 0}
    if not binary:
        kw["labels"] = list(range(n_classes))
    onehot = np.eye(n_classes)[y]
    out: dict[str, Any] = {
        "accuracy": _finite(skm.accuracy_score(y, labels)),
        "balanced_accuracy": _finite(_balanced_accuracy(y, labels, n_classes)),
        "precision": _finite(skm.precision_score(y, labels, **kw)),
        "recall": _finite(skm.recall_score(y, labels, **kw)),
        "f1": _finite(skm.f1_score(y, labels, **kw)),
        "roc_auc": score("roc_auc", y, proba),
        "pr_auc": score("pr_auc", y, proba),
        "log_loss": score("log_loss", y, proba),
        "brier": _finite(
            np.mean(((proba[:, 1] - y) ** 2) if binary else np.sum((proba - onehot) ** 2, axis=1))
        ),
        "confusion_matrix": skm.confusion_matrix(y, labels, labels=list(range(n_classes))).tolist(),
        "confusion_matrix_labels": [_jsonable(c) for c in classes],
        "n": int(len(y)),
    }
    if binary and threshold is not None:
        out["threshold"] = float(threshold)
    return out


def regression_report(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Held-out regression metrics."""
    return {
        "rmse": score("rmse", y, pred),
        "mae": score("mae", y, pred),
        "r2": score("r2", y, pred),
        "n": int(len(y)),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def scalar_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The scalar figures of a held-out report: every metric, not the row count or threshold."""
    return {
        k: float(v)
        for k, v in report.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k not in ("n", "threshold")
    }


def label_key(value: Any) -> str:
    """One spelling of a class label, whichever type it was read as: 1, 1.0, True and "1" agree."""
    value = _jsonable(value)
    if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    return str(value)


def report_on_labels(
    kind: str, labels: Sequence[Any], out: np.ndarray, classes: list[Any], threshold: float | None
) -> dict[str, Any]:
    """The held-out report of a model's outputs ``out`` against the true ``labels`` (values, as a
    table holds them), as a fit reports its hold-out. Classification: a label the model never
    learnt counts against it (a class of probability 0 is added for it, so the class list then
    has every label seen). Raises :class:`InvalidInput` for a regression label that is no number."""
    if kind == "regression":
        try:
            y = np.asarray(labels, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"a regression outcome is not a number: {exc}") from None
        return regression_report(y, out)
    index = {label_key(c): i for i, c in enumerate(classes)}
    known = list(classes)
    y = np.empty(len(labels), dtype=int)
    for i, value in enumerate(labels):
        key = label_key(value)
        if key not in index:
            index[key] = len(known)
            known.append(_jsonable(value))
        y[i] = index[key]
    if len(known) > len(classes):
        out = np.hstack([out, np.zeros((len(out), len(known) - len(classes)))])
        threshold = None  # the tuned binary threshold means nothing among more classes
    return classification_report(y, out, known, threshold)


def leakage_warnings(
    enc: np.ndarray,
    pre: Any,
    y: np.ndarray,
    kind: str,
    *,
    threshold: float = 0.97,
    classes: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Inputs that alone predict the target almost perfectly (a sign of target leakage).

    Classification, per input column (on the training rows only):
    * whole-column score: ROC-AUC of a depth-2 tree on that column alone (binary; macro
      one-vs-rest for multiclass) >= ``threshold``;
    * a *rule* from that tree (or ``column == category``) covering at least
      ``max(10, 0.2%)`` of the rows whose precision is >= ``threshold`` **and** whose error
      rate is at most a tenth of the base error rate for the predicted class (so that
      "Type = H -> no failure" on a 97%-negative table does not count). This catches
      failure-mode flags such as AI4I's HDF: rare, but whenever set the machine failed.
    Regression: R^2 of a depth-4 tree on the column alone >= ``threshold``.
    Returns ``{"code": "possible-leakage", "feature", "score", "message"}`` dicts.
    """
    out: list[dict[str, Any]] = []
    min_support = max(10, int(0.002 * len(y)))
    n_cat_start = len(pre.numeric) + len(pre.boolean)
    for j, col in enumerate(pre.inputs):
        x = _filled_column(enc, pre, j, n_cat_start)
        if kind == "regression":
            leak = _regression_leak(col, x, y, threshold)
        else:
            groups, proba = _candidate_groups(col, x, y, pre, j, n_cat_start, min_support)
            leak = _classification_leak(col, groups, proba, y, min_support, threshold, classes)
        if leak is not None:
            out.append(leak)
    return out


def _filled_column(enc: np.ndarray, pre: Any, j: int, n_cat_start: int) -> np.ndarray:
    """Encoded column ``j`` with its gaps filled as the preprocessor fills them."""
    x = enc[:, j].copy()
    fill = (
        pre.medians[j]
        if j < len(pre.numeric)
        else (pre.bool_fill[j - len(pre.numeric)] if j < n_cat_start else -2.0)
    )
    x[np.isnan(x)] = fill
    return x


def _regression_leak(col: str, x: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any] | None:
    """The warning when a depth-4 tree on the column alone reaches R^2 >= ``threshold``."""
    from sklearn.metrics import r2_score
    from sklearn.tree import DecisionTreeRegressor

    X1 = x.reshape(-1, 1)
    tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X1, y)
    r2 = float(r2_score(y, tree.predict(X1)))
    if r2 >= threshold:
        return _leak(col, r2, f"column {col!r} alone explains R^2={r2:.3f} of the target")
    return None


def _candidate_groups(
    col: str, x: np.ndarray, y: np.ndarray, pre: Any, j: int, n_cat_start: int, min_support: int
) -> tuple[list[tuple[str, np.ndarray]], np.ndarray | None]:
    """Row groups a rule on the column can pick out, and the column's own class scores.

    A categorical column gives one group per category (and no scores); any other column gives
    the leaves of a depth-2 tree on it alone, with that tree's class probabilities.
    """
    from sklearn.tree import DecisionTreeClassifier

    n = len(y)
    n_classes = int(y.max()) + 1
    if j >= n_cat_start:
        groups = [
            (f"{col} = {pre.categories[j - n_cat_start][int(v)]}" if v >= 0 else f"{col} missing", x == v)
            for v in np.unique(x)
        ]
        return groups, None
    X1 = x.reshape(-1, 1)
    tree = DecisionTreeClassifier(max_depth=2, min_samples_leaf=min_support, random_state=0).fit(X1, y)
    leaf = tree.apply(X1)
    groups = [(f"a threshold rule on {col!r}", leaf == v) for v in np.unique(leaf)]
    proba = np.zeros((n, n_classes))
    proba[:, tree.classes_] = tree.predict_proba(X1)
    return groups, proba


def _classification_leak(
    col: str,
    groups: list[tuple[str, np.ndarray]],
    proba: np.ndarray | None,
    y: np.ndarray,
    min_support: int,
    threshold: float,
    classes: Sequence[Any] | None,
) -> dict[str, Any] | None:
    """The warning when the column's ROC-AUC or one of its rules' precision reaches ``threshold``."""
    from sklearn.metrics import roc_auc_score

    n = len(y)
    n_classes = int(y.max()) + 1
    base_rate = np.bincount(y, minlength=n_classes) / n
    best_score, best_msg = 0.0, ""
    if proba is not None and len(np.unique(y)) > 1:
        auc = float(
            roc_auc_score(y, proba[:, 1])
            if n_classes == 2
            else roc_auc_score(y, proba, multi_class="ovr", labels=list(range(n_classes)))
        )
        best_score, best_msg = auc, f"column {col!r} alone reaches ROC-AUC {auc:.3f}"
    for label, mask in groups:
        support = int(mask.sum())
        if support < min_support:
            continue
        counts = np.bincount(y[mask], minlength=n_classes)
        c = int(counts.argmax())
        precision = counts[c] / support
        if precision >= threshold and (1 - precision) <= 0.1 * (1 - base_rate[c]) and precision > best_score:
            best_score = float(precision)
            name = classes[c] if classes is not None else c
            best_msg = (
                f"{label} predicts class {name!r} with precision {precision:.3f} on {support} rows "
                f"(base rate {base_rate[c]:.3f})"
            )
    if best_score >= threshold:
        return _leak(col, best_score, best_msg)
    return None


def _leak(col: str, score: float, why: str) -> dict[str, Any]:
    return {
        "code": "possible-leakage",
        "feature": col,
        "score": round(float(score), 4),
        "message": f"{why}: check that it is known before the outcome (target leakage?)",
    }

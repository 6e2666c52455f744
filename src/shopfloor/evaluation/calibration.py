"""Calibration of class probabilities, and performance estimated from them without labels.

At training, :func:`fit_platt` fits Platt scaling on the held-out split: per class, a logistic curve
on the log-odds of the model's probability (one-vs-rest; the classes' curves are renormalised to sum
to one), with Platt's smoothed targets so that a few dozen positives do not give probabilities of
exactly 0 or 1. The result is plain numbers (JSON in the report, never a pickled object).

In service, :func:`estimate` is confidence-based performance estimation (CBPE): with calibrated
probabilities, a served positive is a true positive with its calibrated probability, a served
negative a missed positive with its probability; the expected counts give precision, recall and F1
(macro over the classes when there are more than two) for windows whose outcomes are not known yet.
The estimate holds while the model stays calibrated on the new data (a shift of the inputs, not of
the relation between inputs and outcome).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

METHOD = "platt"
_EPS = 1e-6
_ITERATIONS = 100


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(p / (1 - p)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))))


def _platt_curve(score: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` with ``P(positive) = sigmoid(a * score + b)``: Newton steps with a backtracking line
    search on the log-likelihood of Platt's smoothed targets (the targets of the positives and
    negatives pulled off 1 and 0), as Lin, Lin and Weng (2007) describe it."""
    n_pos, n_neg = float(positive.sum()), float(len(positive) - positive.sum())
    target = np.where(positive, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(a: float, b: float) -> float:
        z = a * score + b
        # -[t log p + (1 - t) log(1 - p)] with p = sigmoid(z), written to stay finite for large |z|
        return float(np.sum(np.logaddexp(0.0, z) - target * z))

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(_ITERATIONS):
        p = _sigmoid(a * score + b)
        w = np.maximum(p * (1 - p), 1e-12)
        g = np.array([np.sum((p - target) * score), np.sum(p - target)])
        h = np.array([[np.sum(w * score * score), np.sum(w * score)], [np.sum(w * score), np.sum(w)]])
        step = np.linalg.solve(h + np.eye(2) * 1e-9, g)
        size = 1.0
        while size > 1e-8:
            trial = loss(a - size * float(step[0]), b - size * float(step[1]))
            if trial <= current + 1e-4 * size * float(g @ -step):
                break
            size /= 2
        if size <= 1e-8:
            break
        a, b, current = a - size * float(step[0]), b - size * float(step[1]), trial
        if float(np.abs(size * step).max()) < 1e-9:
            break
    return a, b


def fit_platt(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Platt scaling of ``proba`` (``(n, n_classes)``) against the class indices ``y``; plain numbers.

    Binary: one curve on the positive class (index 1). Classes absent from ``y`` keep their
    probabilities as they are (slope 1, intercept 0 on the log-odds).
    """
    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=int)
    n_classes = proba.shape[1]
    columns = [1] if n_classes == 2 else list(range(n_classes))
    slopes, intercepts = [], []
    for k in columns:
        positive = y == k
        if 0 < positive.sum() < len(y):
            a, b = _platt_curve(_logit(proba[:, k]), positive)
        else:
            a, b = 1.0, 0.0
        slopes.append(a)
        intercepts.append(b)
    fitted = {"method": METHOD, "classes": n_classes, "slope": slopes, "intercept": intercepts}
    after = calibrate(fitted, proba)
    return {
        **fitted,
        "n": int(len(y)),
        "brier_before": _brier(y, proba),
        "brier_after": _brier(y, after),
    }


def _brier(y: np.ndarray, proba: np.ndarray) -> float:
    onehot = np.eye(proba.shape[1])[y]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def usable(calibration: Any, n_classes: int) -> bool:
    """Whether ``calibration`` (from a report: anything) is a Platt calibration of ``n_classes``."""
    if not isinstance(calibration, Mapping) or calibration.get("method") != METHOD:
        return False
    slopes, intercepts = calibration.get("slope"), calibration.get("intercept")
    width = 1 if n_classes == 2 else n_classes
    return (
        calibration.get("classes") == n_classes
        and isinstance(slopes, list)
        and isinstance(intercepts, list)
        and len(slopes) == len(intercepts) == width
        and all(isinstance(v, int | float) and math.isfinite(v) for v in [*slopes, *intercepts])
    )


def calibrate(calibration: Mapping[str, Any], proba: np.ndarray) -> np.ndarray:
    """``proba`` (``(n, n_classes)``) with the calibration applied; rows sum to one."""
    proba = np.asarray(proba, dtype=float)
    slopes = np.asarray(calibration["slope"], dtype=float)
    intercepts = np.asarray(calibration["intercept"], dtype=float)
    if proba.shape[1] == 2:
        p1 = _sigmoid(slopes[0] * _logit(proba[:, 1]) + intercepts[0])
        return np.column_stack([1 - p1, p1])
    scaled = _sigmoid(slopes[None, :] * _logit(proba) + intercepts[None, :])
    return np.asarray(scaled / np.maximum(scaled.sum(axis=1, keepdims=True), 1e-12))


def estimate(proba: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """Expected precision, recall and F1 of the served classes ``predicted`` (indices), from
    calibrated probabilities ``proba``: binary for the positive class (index 1), else macro."""
    proba = np.asarray(proba, dtype=float)
    predicted = np.asarray(predicted, dtype=int)
    n_classes = proba.shape[1]
    if not len(predicted):
        return {"precision": None, "recall": None, "f1": None}
    per_class = []
    for k in [1] if n_classes == 2 else range(n_classes):
        chosen = predicted == k
        tp = float(proba[chosen, k].sum())
        fp = float((1 - proba[chosen, k]).sum())
        fn = float(proba[~chosen, k].sum())
        per_class.append(
            (
                tp / (tp + fp) if tp + fp > 0 else 0.0,
                tp / (tp + fn) if tp + fn > 0 else 0.0,
                2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0,
            )
        )
    precision, recall, f1 = (float(np.mean(values)) for values in zip(*per_class, strict=True))
    return {"precision": precision, "recall": recall, "f1": f1}

"""Platt calibration and performance estimated from calibrated probabilities (CBPE)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shopfloor.evaluation import metrics as M
from shopfloor.evaluation.calibration import calibrate, estimate, fit_platt, usable


def _calibrated(n: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that are calibrated by construction (outcomes drawn from them), and outcomes."""
    rng = np.random.default_rng(seed)
    p1 = 1 / (1 + np.exp(-(rng.normal(-3.0 + shift, 2.0, size=n))))
    y = (rng.random(n) < p1).astype(int)
    return np.column_stack([1 - p1, p1]), y


@pytest.mark.parametrize("shift", [0.0, 1.5])
def test_cbpe_estimates_f1_precision_recall_of_calibrated_scores(shift: float) -> None:
    """Over 20 windows of 5,000 calibrated predictions, the estimate stays close to the realised F1,
    also when the inputs shift (more positives): the probabilities stay calibrated."""
    errors, precision_errors, recall_errors = [], [], []
    for seed in range(20):
        proba, y = _calibrated(5000, seed, shift)
        served = (proba[:, 1] >= 0.5).astype(int)
        est = estimate(proba, served)
        realised = M.score("f1", y, np.eye(2)[served], 0.5)
        errors.append(abs(est["f1"] - realised))
        precision_errors.append(abs(est["precision"] - y[served == 1].mean()))
        recall_errors.append(abs(est["recall"] - served[y == 1].mean()))
    assert np.mean(errors) < 0.025
    assert np.mean(precision_errors) < 0.03 and np.mean(recall_errors) < 0.03


def test_cbpe_multiclass_is_macro() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6000, 3)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in proba])
    served = proba.argmax(axis=1)
    realised = M.score("f1", y, np.eye(3)[served])
    assert estimate(proba, served)["f1"] == pytest.approx(realised, abs=0.02)


def test_platt_repairs_overconfident_scores() -> None:
    """A model whose log-odds are twice too large: Platt halves them, and the Brier score improves."""
    proba, y = _calibrated(4000, 7)
    p1 = proba[:, 1]
    sharp = 1 / (1 + np.exp(-2 * np.log(p1 / (1 - p1)) - 0.5))
    fitted = fit_platt(y, np.column_stack([1 - sharp, sharp]))
    assert fitted["slope"][0] == pytest.approx(0.5, abs=0.1)
    assert fitted["brier_after"] < fitted["brier_before"]
    json.dumps(fitted)  # plain numbers, for the report
    assert usable(fitted, 2) and not usable(fitted, 3) and not usable(None, 2)
    assert not usable({**fitted, "slope": [float("nan")]}, 2)
    repaired = calibrate(fitted, np.column_stack([1 - sharp, sharp]))
    assert np.allclose(repaired.sum(axis=1), 1.0)
    assert np.abs(repaired[:, 1] - p1).mean() < 0.02


def test_platt_multiclass_rows_sum_to_one_and_absent_classes_pass_through() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]] * 30)
    y = np.array([0, 1, 0] * 30)  # class 2 never happens
    fitted = fit_platt(y, proba)
    assert fitted["slope"][2] == 1.0 and fitted["intercept"][2] == 0.0
    assert np.allclose(calibrate(fitted, proba).sum(axis=1), 1.0)


def test_estimate_of_nothing_is_none() -> None:
    assert estimate(np.empty((0, 2)), np.empty(0)) == {"precision": None, "recall": None, "f1": None}

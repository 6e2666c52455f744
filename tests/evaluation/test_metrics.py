"""Metrics, thresholds and the leakage guard."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.errors import InvalidInput
from shopfloor.evaluation import metrics as M
from shopfloor.tasks.tabular.features import Preprocessor


def test_check_metric_defaults_and_rejects() -> None:
    assert M.check_metric("classification", None) == "f1"
    assert M.check_metric("regression", None) == "rmse"
    assert M.check_metric("regression", "mae") == "mae"
    with pytest.raises(InvalidInput):
        M.check_metric("regression", "f1")


def test_best_threshold_maximises_f1() -> None:
    y = np.array([0, 0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.65, 0.9])
    thr, f1 = M.best_threshold(y, p)
    assert f1 == pytest.approx(M.score("f1", y, np.column_stack([1 - p, p]), thr))
    assert 0.3 < thr <= 0.6 and f1 == pytest.approx(6 / 7)


def test_classification_report_binary_and_multiclass() -> None:
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    r = M.classification_report(y, proba, ["no", "yes"], threshold=0.35)
    assert r["confusion_matrix"] == [[2, 0], [0, 2]] and r["f1"] == 1.0 and r["roc_auc"] == 1.0
    assert r["confusion_matrix_labels"] == ["no", "yes"]
    y3 = np.array([0, 1, 2, 2])
    p3 = np.eye(3)[[0, 1, 2, 1]] * 0.8 + 0.2 / 3
    r3 = M.classification_report(y3, p3, ["a", "b", "c"])
    assert r3["accuracy"] == 0.75 and len(r3["confusion_matrix"]) == 3


def test_regression_report() -> None:
    r = M.regression_report(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert r["mae"] == pytest.approx(1 / 3) and r["rmse"] == pytest.approx(np.sqrt(1 / 3))


def test_leakage_flags_rare_perfect_flag_but_not_majority_rule() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    y = (rng.random(n) < 0.05).astype(int)
    flag = np.where(y == 1, rng.random(n) < 0.5, 0).astype(float)  # set only when failing
    noise = rng.normal(size=n)
    grade = rng.integers(0, 2, n).astype(float)
    pre = Preprocessor(
        numeric=["flag", "noise"],
        medians=[0.0, 0.0],
        categorical=["grade"],
        categories=[["A", "B"]],
        cat_fill=[0],
    )
    warns = M.leakage_warnings(np.column_stack([flag, noise, grade]), pre, y, "classification")
    assert [w["feature"] for w in warns] == ["flag"]
    assert warns[0]["code"] == "possible-leakage" and warns[0]["score"] >= 0.97


def test_report_on_labels_reads_labels_as_values_and_counts_unknown_classes_against_the_model() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    # labels as a table holds them: 1.0, True and "1" are the model's class 1 alike
    same = M.report_on_labels("classification", [0, 1.0, True, "0"], proba, [0, 1], 0.5)
    assert same == M.classification_report(np.array([0, 1, 1, 0]), proba, [0, 1], 0.5)
    assert same["f1"] == 1.0 and same["threshold"] == 0.5
    # a class the model never learnt: one more class of probability 0, so those rows are its errors
    new = M.report_on_labels("classification", [0, 1, "jam", "jam"], proba, [0, 1], 0.5)
    assert new["confusion_matrix_labels"] == [0, 1, "jam"] and "threshold" not in new
    assert new["confusion_matrix"][2] == [1, 1, 0] and new["accuracy"] == 0.5
    assert M.scalar_metrics(new).keys() == {
        "accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier"
    }  # fmt: skip
    values = M.report_on_labels("regression", [1.0, 2, "3"], np.array([1.0, 2.0, 4.0]), [], None)
    assert values["mae"] == pytest.approx(1 / 3) and values["n"] == 3
    with pytest.raises(InvalidInput, match="not a number"):
        M.report_on_labels("regression", ["high"], np.array([1.0]), [], None)

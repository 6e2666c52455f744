"""Live metrics of served answers against the outcomes fed back."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.evaluation.live import alarm_scores, label_scores, value_scores


def test_label_scores_use_the_served_classes() -> None:
    served, truth = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    proba = np.array([[0.1, 0.9], [0.4, 0.6], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8]])
    out = label_scores(("f1", "pr_auc"), served, truth, 2, proba)
    assert out["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert 0 < out["pr_auc"] <= 1
    assert label_scores(("pr_auc",), [0, 0], [0, 0], 2, proba[:2])["pr_auc"] is None  # one class only
    assert label_scores(("f1",), [], [], 2) == {"f1": None}
    assert label_scores(("f1",), [0, 1, 2], [0, 1, 1], 3)["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_value_scores_compare_as_many_steps_as_were_given() -> None:
    out = value_scores(("rmse", "mae", "mase"), [[10.0, 11.0, 12.0], [5.0]], [[12.0], [4.0]], [2.0, None])
    assert out["mae"] == pytest.approx(1.5)
    assert out["rmse"] == pytest.approx(np.sqrt((4 + 1) / 2))
    assert out["mase"] == pytest.approx(1.0)  # only the first answer has a scale: |12 - 10| / 2
    assert value_scores(("mase",), [[1.0]], [[2.0]])["mase"] is None


def test_alarm_scores() -> None:
    served, truth = [True, True, False, False], [True, False, True, False]
    out = alarm_scores(("alarm_precision", "alarm_recall"), served, truth)
    assert out == {"alarm_precision": 0.5, "alarm_recall": 0.5}
    assert alarm_scores(("alarm_precision",), [False], [True]) == {"alarm_precision": None}
    with pytest.raises(ValueError):
        alarm_scores(("f1",), [True], [True])

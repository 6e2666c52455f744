"""Agreement of two models' answers to the same records, by kind of answer."""

from __future__ import annotations

import pytest

from shopfloor.evaluation.agreement import alarm_agreement, label_agreement, same_answer, value_agreement


def test_labels_agree_as_text() -> None:
    assert label_agreement(["a", "b", 1, "c"], ["a", "c", "1", "c"]) == {"same_class": 0.75}
    assert label_agreement([], []) == {"same_class": None}


def test_values_differ_on_average_and_correlate_step_by_step() -> None:
    found = value_agreement([[1.0], [2.0], [3.0, 4.0]], [[1.5], [2.5], [3.5, 4.5, 9.9]])
    assert found["mean_abs_difference"] == pytest.approx(0.5)  # the third step of one side has no pair
    assert found["correlation"] == pytest.approx(1.0)
    assert value_agreement([[1.0], [1.0]], [[2.0], [3.0]])["correlation"] is None  # one side constant
    assert value_agreement([[float("nan")]], [[1.0]]) == {"mean_abs_difference": None, "correlation": None}
    negative = value_agreement([[1.0], [2.0], [3.0]], [[3.0], [2.0], [1.0]])
    assert negative["correlation"] == pytest.approx(-1.0)
    assert negative["mean_abs_difference"] == pytest.approx(4 / 3)


def test_alarms_agree_and_say_who_alarmed_alone() -> None:
    found = alarm_agreement([True, False, True, False], [True, True, False, False])
    assert found == {"alarm_agreement": 0.5, "first_only": 1, "second_only": 1, "both": 1}
    assert alarm_agreement([], [])["alarm_agreement"] is None


def test_other_answers_agree_when_identical() -> None:
    assert same_answer([{"a": 1}, {"a": 2}], [{"a": 1}, {"a": 3}]) == {"same_answer": 0.5}

"""The model outputs a drift check compares, from batch tables and from predict answers."""

from __future__ import annotations

import pandas as pd

from shopfloor.tasks.drift import CONFIDENCE, answers_table, output_columns


def test_two_classes_keep_the_second_probability_and_more_classes_their_confidence() -> None:
    two = pd.DataFrame({"prediction": [0, 1], "proba_0": [0.8, 0.3], "proba_1": [0.2, 0.7]})
    assert list(output_columns(two)) == ["prediction", "probability of 1"]
    assert output_columns(two)["probability of 1"].tolist() == [0.2, 0.7]
    three = pd.DataFrame(
        {"prediction": ["a", "b"], "proba_a": [0.5, 0.1], "proba_b": [0.3, 0.8], "proba_c": [0.2, 0.1]}
    )
    assert output_columns(three)[CONFIDENCE].tolist() == [0.5, 0.8]


def test_ids_empty_columns_and_warnings_are_left_out() -> None:
    table = pd.DataFrame({"score": [1.0, 2.0] * 40, "event": [None] * 80, "id": [f"e{i}" for i in range(80)]})
    assert list(output_columns(table)) == ["score"]
    answers = [
        {"label": "ok", "probabilities": {"ok": 0.9, "bad": 0.1}, "warnings": ["x"], "regions": [1, 2]},
        {"label": "bad", "probabilities": {"ok": 0.2, "bad": 0.8}, "warnings": []},
    ]
    table = answers_table(answers)
    assert list(table) == ["label", "proba_ok", "proba_bad"]
    assert list(output_columns(table)) == ["label", "probability of bad"]

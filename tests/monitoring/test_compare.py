"""Findings of single variables: a sensor that drops out, a category never seen, outputs, embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopfloor.monitoring import compare
from shopfloor.monitoring.profile import build_profile
from shopfloor.monitoring.report import Window, drift_report


def _profile():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "pressure [bar]": rng.normal(5, 0.2, 2000),
            "line": rng.choice(["A", "B"], 2000),
            "note": rng.choice(["replace hose", "check seal"], 2000),
        }
    )
    columns = [
        {"name": "pressure [bar]", "type": "numeric"},
        {"name": "line", "type": "categorical"},
        {"name": "note", "type": "text"},
    ]
    outputs = pd.DataFrame({"probability of fail": rng.beta(1, 20, 2000)})
    embeddings = {"note": rng.normal(size=(2000, 16))}
    return build_profile(frame, columns, outputs=outputs, embeddings=embeddings), frame


def test_a_sensor_that_drops_out_is_named_by_its_missing_share() -> None:
    profile, frame = _profile()
    window = frame.iloc[:400].copy()
    window.loc[window.index[:200], "pressure [bar]"] = None
    report = drift_report(profile, Window(window))
    pressure = report.inputs[0]
    assert pressure.name == "pressure [bar]" and pressure.drifted
    assert pressure.sentence == "pressure [bar] is missing in 50 % of rows (0 % at training)"
    assert pressure.details["missing_p_value"] < 1e-50


def test_a_value_never_seen_at_training_is_named() -> None:
    profile, frame = _profile()
    window = frame.iloc[:400].copy()
    window.loc[window.index[:120], "line"] = "C"
    line = drift_report(profile, Window(window)).inputs[0]
    assert line.name == "line" and line.drifted and line.details["new"] == ["C"]
    assert line.sentence.startswith("line: value(s) never seen at training: 'C' (30 % of rows)")


def test_outputs_and_embeddings_are_compared_and_worded() -> None:
    profile, frame = _profile()
    rng = np.random.default_rng(5)
    window = Window(
        frame.iloc[:300],
        outputs=pd.DataFrame({"probability of fail": rng.beta(4, 10, 300)}),
        embeddings={"note": rng.normal(0.6, 1, size=(300, 16))},
    )
    report = drift_report(profile, window)
    (output,) = report.outputs
    assert output.drifted and output.sentence.startswith("model output probability of fail rose by 0.2")
    embedding = next(f for f in report.inputs if f.kind == "embedding")
    assert embedding.drifted and embedding.test == "mmd" and embedding.distance > 0.5
    assert embedding.sentence.startswith("texts in 'note' differ from the training texts")
    # a text column is three inputs: words per text, unseen words, its embeddings
    assert report.summary == "Drift: 1 of 5 inputs moved: note; model outputs moved: probability of fail."


def test_missing_outputs_and_too_few_embeddings_are_said() -> None:
    profile, frame = _profile()
    report = drift_report(profile, Window(frame.iloc[:100], embeddings={"note": np.zeros((1, 16))}))
    assert report.warnings == ["the model's outputs were not compared (the window could not be scored)"]
    embedding = next(f for f in report.inputs if f.kind == "embedding")
    assert not embedding.drifted and "too few rows" in embedding.sentence
    assert compare.Finding("x", "numeric", "input", "ks", 0.1, float("nan"), 0.1).to_dict()["p_value"] is None

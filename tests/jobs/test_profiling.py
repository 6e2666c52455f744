"""The drift view through the families' hooks: the text family's own encoder on real work orders
whose vocabulary shifts, which rows a profile scores, and a profile that cannot be made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import InvalidInput
from shopfloor.jobs.profiling import profile_of, scoring_rows, training_files, window_of
from shopfloor.monitoring.profile import FILES, Profile
from shopfloor.monitoring.report import drift_report
from shopfloor.tasks.catalog import make_estimator

TEXT, LABEL = "OriginalShorttext", "MajorSystem"
#: The systems of the training work orders; the shifted window is about the others (buckets, booms...).
SYSTEMS = ["Engine", "Hydraulic System"]


@pytest.fixture(scope="module")
def orders(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "maintenance_text" / "excavators" / "excavators-cleaned.csv"
    if not path.exists():
        pytest.skip(f"excavator work orders not found at {path}")
    return pd.read_csv(path, usecols=[TEXT, LABEL]).dropna().sample(frac=1.0, random_state=0)


def test_work_orders_whose_vocabulary_shifts_drift_by_the_family_encoder(orders: pd.DataFrame) -> None:
    ours, others = orders[orders[LABEL].isin(SYSTEMS)], orders[~orders[LABEL].isin(SYSTEMS)]
    train, unseen, shifted = ours.iloc[:500], ours.iloc[500:700], others.iloc[:200]
    estimator = make_estimator("text_classification", candidates=["tfidf"], encoder_variant="torch")
    estimator.fit(train, LABEL)
    profile = Profile.from_files(profile_of(estimator, train).to_files())
    assert len(estimator.holdout_rows_) == 100  # the outputs are profiled on the hold-out split
    embedding = next(f for f in profile.inputs() if f.kind == "embedding")
    assert embedding.sample.shape == (500, 384)  # all-MiniLM-L6-v2, the text family's encoder

    stable = drift_report(profile, window_of(estimator, unseen))
    assert not stable.drifted, stable.summary

    report = drift_report(profile, window_of(estimator, shifted))
    assert report.drifted
    assert {f.name for f in report.inputs[:2]} == {TEXT, f"{TEXT}: unseen words"}
    assert all(f.drifted for f in report.inputs[:2])
    unseen_words = next(f for f in report.inputs if f.name == f"{TEXT}: unseen words")
    assert "of the words in 'OriginalShorttext' were never seen at training" in unseen_words.sentence
    assert report.inputs[0].sentence.startswith("texts in 'OriginalShorttext' differ from the training texts")
    assert any(f.drifted for f in report.outputs)  # the model now answers differently too


def test_series_families_score_whole_assets() -> None:
    frame = pd.DataFrame({"unit": np.repeat(np.arange(50), 100), "cycle": np.tile(np.arange(100), 50)})

    class Series:
        report_: dict[str, Any] = {"series": {"asset": "unit"}}

    picked = scoring_rows(Series(), frame, limit=1000)
    assert 1000 <= len(picked) < 1100
    assert (picked.groupby("unit").size() == 100).all()  # whole histories, in their order
    assert picked.index.is_monotonic_increasing


def test_a_profile_that_cannot_be_made_does_not_fail_the_training() -> None:
    estimator = make_estimator("tabular_regression")
    estimator.input_schema_ = [{"name": "x", "type": "numeric"}]

    def broken(frame: pd.DataFrame) -> pd.DataFrame:
        raise RuntimeError("boom")

    estimator.drift_reference = broken
    files, why = training_files(estimator, pd.DataFrame({"x": [1.0, 2.0]}))
    assert files == {} and why is not None and "RuntimeError: boom" in why


def test_outputs_the_model_cannot_score_are_noted_not_fatal() -> None:
    frame = pd.DataFrame({"x": np.arange(60.0)})

    class Scoreless:
        input_schema_ = [{"name": "x", "type": "numeric"}, {"name": "asset", "type": "categorical"}]
        report_: dict[str, Any] = {}

        def drift_embeddings(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
            raise InvalidInput("no texts here")

    window = window_of(Scoreless(), frame)
    assert window.outputs is None and window.embeddings == {}
    assert window.notes == (
        "model outputs not compared: the rows lack the column(s) the model needs to score them: asset",
        "embeddings not compared: computing them failed: no texts here",
    )
    assert set(FILES) == {"drift_profile.json", "drift_reference.npz"}

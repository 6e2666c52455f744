"""Fine-tuning a hub encoder inside the text classifier, with the tiny checkpoint the fixtures build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import ArtifactCorrupted
from shopfloor.hub import encoders
from shopfloor.tasks.text import finetune as text_finetune
from shopfloor.tasks.text.estimator import TextClassifier

PHRASES = {
    "hydraulics": ["replace hose", "hose leak", "broken hose on pump", "pump leak"],
    "engine": ["engine oil", "replace filter", "oil filter", "engine oil leak"],
    "bucket": ["bucket tooth", "broken tooth", "replace bucket tooth", "tooth on the bucket"],
}


@pytest.fixture()
def tiny_encoders(tiny_hub: Path, hub_cache: Path) -> Iterator[None]:
    saved = dict(encoders._LOCATIONS)
    encoders.configure(tiny_hub, hub_cache)
    yield
    encoders._LOCATIONS.update(saved)


def _frame(n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = rng.choice(sorted(PHRASES), size=n)
    texts = [PHRASES[y][int(rng.integers(4))] for y in labels]
    return pd.DataFrame({"order": texts, "system": labels})


def test_fine_tuned_candidate_trains_saves_and_loads(tiny_encoders: None) -> None:
    est = TextClassifier(
        text_column="order", candidates=["fine_tuned"], encoder="tiny-st", time_budget_s=600, seed=1
    )
    est.fit(_frame(), "system")
    report = est.report_
    assert report["chosen"] == "fine_tuned"
    assert report["encoder"]["name"] == "tiny-st" and report["encoder"]["fingerprint"]
    files = est.save()
    assert text_finetune.WEIGHTS_FILE in files and "features.json" not in files
    again = TextClassifier.load(files)
    records = [{"order": "replace bucket tooth"}, {"order": "engine oil leak"}]
    first, second = est.predict(records), again.predict(records)
    for a, b in zip(first, second, strict=True):
        assert a["label"] == b["label"]
        assert np.allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-2)
    words = again.explain(records[:1])[0]["contributions"]
    assert {w["token"] for w in words} == {"replace", "bucket", "tooth"}


def test_fine_tuning_lowers_the_training_loss(tiny_encoders: None) -> None:
    from shopfloor.hub.encoders import default_entry

    frame = _frame(120)
    texts, codes = frame["order"].tolist(), pd.Categorical(frame["system"]).codes.astype(int)
    model = text_finetune.FineTuned(default_entry("tiny-st").path, 3, False, seed=0)

    def loss() -> float:
        proba = model.predict_proba(texts)
        return float(-np.log(proba[np.arange(len(codes)), codes]).mean())

    before = loss()
    model.fit(texts, None, codes)
    assert loss() < before


def test_small_data_or_short_budget_skips_fine_tuning(tiny_encoders: None) -> None:
    est = TextClassifier(
        text_column="order", candidates=["tfidf", "fine_tuned"], encoder="tiny-st", time_budget_s=0.001
    )
    est.fit(_frame(), "system")
    assert [c["name"] for c in est.report_["candidates"]] == ["tfidf"]
    notes = [w["message"] for w in est.report_["warnings"] if w["code"] == "candidate-skipped"]
    assert notes and "fine_tuned" in notes[0]
    auto = TextClassifier(encoder="tiny-st", candidates=None)
    assert auto._skip("fine_tuned", ["x"] * 10, 5, 3, False, float("inf")).startswith("10 training texts")


def test_damaged_fine_tuned_weights_are_refused(tiny_encoders: None) -> None:
    est = TextClassifier(text_column="order", candidates=["fine_tuned"], encoder="tiny-st", time_budget_s=600)
    est.fit(_frame(60), "system")
    files = est.save()
    with pytest.raises(ArtifactCorrupted):
        TextClassifier.load({**files, text_finetune.WEIGHTS_FILE: b"not safetensors"})

"""Excavator work orders through the SDK against the real server: the major system of each short
text, learnt from labelled history (three candidates compared), explained word by word, and
guessed without training from the label names alone.

The work is a stratified sample (PER_CLASS texts of each of the 15 classes), so the test checks that
the server trains, serves and explains, and that the model beats the majority class; the accuracy
of the whole set (macro-F1 >= 0.85, accuracy >= 0.92 with a long budget) is measured by
bench/text_classify.py on the same data."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import serve_admin  # noqa: E402

pytestmark = pytest.mark.e2e

TEXT, LABEL = "OriginalShorttext", "MajorSystem"
MIN_EXAMPLES = 20
ZERO_SHOT_TEXTS = 200
PER_CLASS = 20


@pytest.fixture(scope="module")
def excavators(data_dir: Path) -> pd.DataFrame:
    """Rows with a major system, in the classes with at least MIN_EXAMPLES examples."""
    path = data_dir / "maintenance_text" / "excavators" / "excavators-cleaned.csv"
    if not path.exists():
        pytest.skip(f"excavator work orders not found at {path}")
    frame = pd.read_csv(path, usecols=[TEXT, LABEL]).dropna()
    counts = frame[LABEL].value_counts()
    return frame[frame[LABEL].isin(counts[counts >= MIN_EXAMPLES].index)].reset_index(drop=True)


@pytest.fixture(scope="module")
def sample(excavators: pd.DataFrame) -> pd.DataFrame:
    """PER_CLASS texts of each class: every class stays, the training is small."""
    picked = excavators.groupby(LABEL, group_keys=False).sample(PER_CLASS, random_state=0)
    return picked.reset_index(drop=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    yield from serve_admin(tmp_path_factory.mktemp("excavators") / "home", OMP_NUM_THREADS="1")


def test_major_system_from_work_order_text(client: Client, sample: pd.DataFrame, tmp_path: Path) -> None:
    classes = sorted(sample[LABEL].unique())
    assert len(classes) == 15
    sample.to_csv(tmp_path / "excavators.csv", index=False)
    dataset = client.upload_dataset(tmp_path / "excavators.csv", name="excavators")
    assert dataset["rows"] == len(sample) == 15 * PER_CLASS
    assert {c["name"]: c["type"] for c in dataset["columns"]}[TEXT] == "text"

    # the three frozen candidates; fine-tuning (minutes per fold on two cores) is tested with a tiny encoder
    options = {"candidates": ["tfidf", "embedding", "combined"]}
    job = client.train(
        dataset["id"], LABEL, "excavators", task="text_classification", time_budget_s=300, options=options
    )
    done = client.wait(job["id"], timeout=300, poll=0.5)
    assert done["status"] == "succeeded", done
    version = client.get_version("excavators", done["result"]["version"])
    report = version["report"]
    assert report["text_column"] == TEXT
    assert [c["name"] for c in report["candidates"]] == ["tfidf", "embedding", "combined"]
    assert report["chosen"] in {c["name"] for c in report["candidates"]}
    assert sorted(report["classes"]) == classes
    f1, accuracy = version["metrics"]["f1"], version["metrics"]["accuracy"]
    scores = ", ".join(f"{c['name']} {c['cv_score']:.3f}" for c in report["candidates"])
    print(
        f"excavators: chose {report['chosen']} (cv macro-F1: {scores}); hold-out macro-F1 {f1:.3f}, "
        f"accuracy {accuracy:.3f} on {report['n_test']} texts, fit {report['fit_seconds']:.0f}s"
    )
    # on the sample (0.82 / 0.81 measured): far above the majority class, 1/15 of the balanced sample;
    # the whole-set figures are held by bench/text_classify.py
    assert accuracy >= 0.5
    assert f1 >= 0.5

    client.set_alias("excavators", "production", version["version"])
    text = "L/H BUCKET CYL LEAKING."
    predicted = client.predict("excavators", [{TEXT: text}])["predictions"][0]
    assert predicted["label"] in classes
    explained = client.explain("excavators", [{TEXT: text}], method="occlusion")["explanations"][0]
    words = explained["contributions"]
    assert all(text[w["start"] : w["end"]] == w["token"] for w in words)
    top = [w["token"] for w in words[:2]]
    print(f"explained as {explained['class']}: {[(w['token'], round(w['weight'], 3)) for w in words]}")
    assert {"BUCKET", "CYL"} & set(top), words


def test_zero_shot_beats_the_majority_class(client: Client, excavators: pd.DataFrame) -> None:
    classes = sorted(excavators[LABEL].unique())
    sample = excavators.sample(ZERO_SHOT_TEXTS, random_state=0)
    names = [c.replace("_", " and ") for c in classes]
    found = client.zero_shot(sample[TEXT].tolist(), names)
    assert [r["index"] for r in found["results"]] == list(range(ZERO_SHOT_TEXTS))
    guessed = [classes[names.index(r["ranking"][0]["label"])] for r in found["results"]]
    accuracy = float(np.mean(np.array(guessed) == sample[LABEL].to_numpy()))
    majority = float(sample[LABEL].value_counts(normalize=True).iloc[0])
    print(f"zero-shot over {len(classes)} labels: accuracy {accuracy:.3f}, majority share {majority:.3f}")
    assert accuracy > majority

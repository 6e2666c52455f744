"""TextClassifier on short synthetic work orders built from keyword vocabularies per class.

Everything runs on the TF-IDF candidate except one test on the bundled MiniLM encoder; where several
candidates are compared, a stand-in encoder gives uninformative embeddings so the choice is known.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from shopfloor.errors import ArtifactCorrupted, Conflict, InvalidInput
from shopfloor.hub import encoders
from shopfloor.tasks.text.estimator import MAX_CHARS, TextClassifier
from shopfloor.tasks.text.explain import word_spans

VOCAB = {
    "hydraulic": ["hose", "cylinder", "pump", "seal", "valve", "pressure"],
    "engine": ["piston", "injector", "turbo", "radiator", "coolant", "exhaust"],
    "electrical": ["wiring", "fuse", "battery", "alternator", "sensor", "relay"],
}
FILLER = ["check", "replace", "inspect", "leaking", "noisy", "worn", "loose", "the", "on", "unit"]


def _phrase(rng: np.random.Generator, labels: list[str]) -> str:
    """Two keywords of each label among a few filler words, shuffled."""
    words = [str(w) for lab in labels for w in rng.choice(VOCAB[lab], 2, replace=False)]
    words += [str(w) for w in rng.choice(FILLER, 3)]
    rng.shuffle(words)
    return " ".join(words).capitalize()


def _orders(per_class: int = 40, seed: int = 0) -> pd.DataFrame:
    """Single-label work orders with a numeric column that carries no text."""
    rng = np.random.default_rng(seed)
    rows = [
        {"description": _phrase(rng, [label]), "hours": float(rng.integers(0, 5000)), "y": label}
        for label in VOCAB
        for _ in range(per_class)
    ]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _multi_orders(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """Work orders with one or two systems ("engine|hydraulic"); three rows also carry a rare "paint"."""
    rng = np.random.default_rng(seed)
    names = list(VOCAB)
    rows = []
    for i in range(n):
        labels = [str(v) for v in rng.choice(names, 1 + (i % 3 == 0), replace=False)]
        text = _phrase(rng, labels)
        rows.append({"notes": text, "y": "|".join(labels + (["paint"] if i < 3 else []))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return _orders()


@pytest.fixture(scope="module")
def est(orders: pd.DataFrame) -> TextClassifier:
    return TextClassifier(candidates=["tfidf"], seed=0).fit(orders, "y")


@pytest.fixture(scope="module")
def multi() -> TextClassifier:
    return TextClassifier(candidates=["tfidf"], label_separator="|").fit(_multi_orders(), "y")


def _holdout_f1(model: TextClassifier) -> float:
    test = _orders(per_class=20, seed=9)
    predicted = [p["label"] for p in model.predict(test[["description"]].to_dict("records"))]
    from sklearn.metrics import f1_score

    return float(f1_score(test["y"], predicted, average="macro"))


# ---------------------------------------------------------------------- fit and report
def test_fit_reports_and_generalises(est: TextClassifier) -> None:
    report = est.report_
    assert _holdout_f1(est) > 0.9
    assert report["metrics"]["f1"] > 0.9
    assert report["chosen"] == "tfidf" and report["text_column"] == "description"
    assert [c["name"] for c in report["candidates"]] == ["tfidf"]
    assert report["cv_score"] == report["candidates"][0]["cv_score"] > 0.9
    assert len(report["stability"]["metrics"]["f1"]["values"]) == report["cv_folds"]
    assert [c["class"] for c in report["metrics"]["per_class"]] == ["electrical", "engine", "hydraulic"]
    assert report["n_train"] + report["n_test"] == 120 and report["n_test"] == 24
    assert report["encoder"] is None and report["warnings"] == []
    assert est.input_schema_ == [{"name": "description", "type": "text", "max_chars": MAX_CHARS}]
    json.dumps(report)


class _NoiseEncoder:
    """Stands in for a hub encoder: a fixed random unit vector per text, unrelated to its words."""

    max_tokens = 256

    def embed_checked(self, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, list[int]]:
        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=16) for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), 16)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), []


@pytest.fixture
def noise_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoders, "default_encoder", lambda name, variant: _NoiseEncoder())


@pytest.mark.usefixtures("noise_encoder")
def test_selection_takes_the_best_cross_validated_candidate(orders: pd.DataFrame) -> None:
    model = TextClassifier(candidates=["embedding", "tfidf", "combined"]).fit(orders, "y")
    results = {c["name"]: c for c in model.report_["candidates"]}
    assert list(results) == ["embedding", "tfidf", "combined"]
    best = max(results.values(), key=lambda c: c["cv_score"])
    assert model.report_["chosen"] == best["name"] != "embedding"
    assert model.report_["cv_score"] == best["cv_score"]
    assert results["embedding"]["cv_score"] < results["tfidf"]["cv_score"] - 0.3
    assert model.report_["stability"]["metrics"]["f1"]["values"] == best["folds"]


# ---------------------------------------------------------------------- multi-label
def test_multi_label_predicts_label_lists(multi: TextClassifier) -> None:
    report = multi.report_
    assert report["multi_label"] and report["classes"] == ["electrical", "engine", "hydraulic"]
    assert {"f1", "f1_micro", "subset_accuracy", "hamming_loss", "per_class"} <= set(report["metrics"])
    assert report["metrics"]["f1"] > 0.9
    assert [w["code"] for w in report["warnings"]] == ["rare-labels"]
    both, one = multi.predict([{"notes": "Pump seal worn, fuse and wiring"}, {"notes": "piston turbo"}])
    assert both["labels"] == ["electrical", "hydraulic"] and one["labels"] == ["engine"]
    assert set(both["probabilities"]) == {"electrical", "engine", "hydraulic"}
    frame = multi.predict_frame(pd.DataFrame({"notes": ["relay fuse, hose valve", "injector exhaust"]}))
    assert frame["prediction"].tolist() == ["electrical|hydraulic", "engine"]


# ---------------------------------------------------------------------- explain
def test_explain_offsets_and_keyword_weight(est: TextClassifier) -> None:
    text = "Check the (hose), it is leaking on the unit."
    [found] = est.explain([{"description": text}])
    assert found["class"] == "hydraulic" and found["method"] == "occlusion"
    assert 0.0 <= found["base_value"] <= 1.0 and found["output"] > found["base_value"]
    words = found["contributions"]
    assert all({"token", "start", "end", "weight"} <= set(w) for w in words)
    assert all(text[w["start"] : w["end"]] == w["token"] for w in words)
    assert max(words, key=lambda w: w["weight"])["token"] == "hose"
    assert words[0]["token"] == "hose" and words[0]["weight"] > 0
    assert est.explain([{"description": text}], method="shap") == [found]
    with pytest.raises(InvalidInput) as info:
        est.explain([{"description": text}], method="lime")
    assert info.value.errors[0]["loc"] == ["query", "method"]


def test_word_spans_trim_punctuation() -> None:
    text = "L/H BUCKET CYL LEAKING."
    assert [text[s:e] for s, e in word_spans(text)] == ["L/H", "BUCKET", "CYL", "LEAKING"]
    text = '  "Pump" (seal), ... ok!'
    assert [text[s:e] for s, e in word_spans(text)] == ["Pump", "seal", "ok"]


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("value", "msg"),
    [
        ("", "text is empty"),
        ("   ", "text is empty"),
        (None, "text is missing"),
        (42, "text is not a string"),
    ],
)
def test_predict_refuses_records_without_text(est: TextClassifier, value: Any, msg: str) -> None:
    with pytest.raises(InvalidInput) as info:
        est.predict([{"description": "hose"}, {"description": value}])
    assert info.value.errors == [{"loc": ["body", "records", 1, "description"], "msg": msg}]


def test_predict_refuses_a_record_without_the_column(est: TextClassifier) -> None:
    with pytest.raises(InvalidInput) as info:
        est.predict([{"hours": 3.0}])
    assert info.value.errors[0]["loc"] == ["body", "records", 0, "description"]


def test_long_text_is_cut_with_a_warning(est: TextClassifier) -> None:
    long = "pump seal " * 300
    [cut] = est.predict([{"description": long}])
    assert cut["label"] == "hydraulic"
    assert len(cut["warnings"]) == 1 and str(MAX_CHARS) in cut["warnings"][0]
    [same] = est.predict([{"description": long[:MAX_CHARS]}])
    assert same["probabilities"] == cut["probabilities"] and same["warnings"] == []


def test_fit_refuses_a_single_class(orders: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as info:
        TextClassifier(candidates=["tfidf"]).fit(orders.assign(y="hydraulic"), "y")
    assert info.value.errors[0]["loc"] == ["body", "target"]


def test_fit_drops_empty_texts_with_a_note(orders: pd.DataFrame) -> None:
    frame = orders.copy()
    frame["description"] = frame["description"].astype(object)
    frame.loc[[0, 1, 2], "description"] = ["", "   ", None]
    model = TextClassifier(candidates=["tfidf"]).fit(frame, "y")
    notes = {w["code"]: w["message"] for w in model.report_["warnings"]}
    assert list(notes) == ["text-empty"] and notes["text-empty"].startswith("3 rows")
    assert model.report_["n_train"] + model.report_["n_test"] == 117


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"candidates": ["bert"]}, "candidates"),
        ({"candidates": []}, "candidates"),
        ({"candidates": ["tfidf", "tfidf"]}, "candidates"),
        ({"encoder_variant": "fp16"}, "encoder_variant"),
        ({"label_separator": "  "}, "label_separator"),
        ({"label_separator": ""}, "label_separator"),
        ({"candidates": ["embedding"], "encoder": "gpt-17"}, "encoder"),
    ],
)
def test_check_options_refuses(options: dict[str, Any], name: str) -> None:
    params = {"candidates": ["tfidf"], **options}
    with pytest.raises(InvalidInput) as info:
        TextClassifier(**params).check_options()
    assert info.value.errors[0]["loc"] == ["body", "options", name]


def test_text_column_must_exist(orders: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as info:
        TextClassifier(text_column="remarks", candidates=["tfidf"]).fit(orders, "y")
    assert info.value.errors[0]["loc"] == ["body", "options", "text_column"]


def test_two_text_columns_need_a_choice(orders: pd.DataFrame) -> None:
    frame = orders.assign(remarks=_orders(seed=5)["description"])
    with pytest.raises(InvalidInput) as info:
        TextClassifier(candidates=["tfidf"]).fit(frame, "y")
    assert info.value.errors[0]["loc"] == ["body", "options", "text_column"]
    assert "description, remarks" in info.value.errors[0]["msg"]
    chosen = TextClassifier(text_column="remarks", candidates=["tfidf"]).settle_text_column(
        {"description": "text", "remarks": "text", "y": "categorical"}, "y"
    )
    assert chosen == "remarks"


# ---------------------------------------------------------------------- persistence
RECORDS = [{"description": t} for t in ["Hose leaking at the pump", "turbo noisy", "FUSE BLOWN, relay worn."]]


def test_save_load_round_trip(est: TextClassifier) -> None:
    files = est.save()
    assert set(files) == {"estimator.json", "features.json", "weights.safetensors"}
    again = TextClassifier.load(files)
    assert again.predict(RECORDS) == est.predict(RECORDS)
    assert again.explain(RECORDS) == est.explain(RECORDS)
    assert again.report_ == json.loads(json.dumps(est.report_))
    assert again.get_params()["candidates"] == ["tfidf"]


def _weights(files: dict[str, bytes], change: Any) -> bytes:
    arrays = dict(load_arrays(files["weights.safetensors"]))
    change(arrays)
    return save_arrays({k: np.ascontiguousarray(v) for k, v in arrays.items()})


def _features(files: dict[str, bytes], **change: Any) -> bytes:
    return json.dumps({**json.loads(files["features.json"]), **change}).encode()


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda f: {"features.json": b"{"},
        lambda f: {"features.json": b"[]"},
        lambda f: {"features.json": _features(f, candidate="bert")},
        lambda f: {"features.json": _features(f, n_classes=2)},
        lambda f: {"features.json": _features(f, vocabulary={"word": ["hose"], "char": ["ho"]})},
        lambda f: {"weights.safetensors": f["weights.safetensors"][:40]},
        lambda f: {"weights.safetensors": b""},
        lambda f: {"weights.safetensors": _weights(f, lambda a: a.pop("idf_char"))},
        lambda f: {"weights.safetensors": _weights(f, lambda a: a.update(intercept=a["intercept"][:2]))},
        lambda f: {"estimator.json": b"{"},
        lambda f: {"estimator.json": json.dumps({"format": 99}).encode()},
    ],
    ids=[
        "json-cut",
        "json-list",
        "candidate",
        "n-classes",
        "vocabulary",
        "weights-cut",
        "weights-empty",
        "idf-missing",
        "intercept",
        "estimator-cut",
        "format",
    ],
)
def test_corrupted_artifact_is_refused(est: TextClassifier, corrupt: Any) -> None:
    files = est.save()
    with pytest.raises(ArtifactCorrupted):
        TextClassifier.load({**files, **corrupt(files)})


def test_estimator_json_that_is_not_an_object_is_refused(est: TextClassifier) -> None:
    with pytest.raises(ArtifactCorrupted):
        TextClassifier.load({**est.save(), "estimator.json": b"[]"})


def test_weights_of_the_wrong_width_are_refused(est: TextClassifier) -> None:
    files = est.save()
    narrow = _weights(files, lambda a: a.update(coef=a["coef"][:, :-3]))
    with pytest.raises(ArtifactCorrupted):
        TextClassifier.load({**files, "weights.safetensors": narrow}).predict(RECORDS)


@pytest.mark.parametrize("change", [{"candidate": "embedding"}, {"multi_label": True}])
def test_features_that_disagree_with_the_estimator_are_refused(
    est: TextClassifier, change: dict[str, Any]
) -> None:
    files = est.save()
    with pytest.raises(ArtifactCorrupted):
        TextClassifier.load({**files, "features.json": _features(files, **change)})


# ---------------------------------------------------------------------- batch scoring
def test_predict_frame_leaves_rows_without_text_empty(est: TextClassifier) -> None:
    frame = pd.DataFrame(
        {"description": ["Hose leaking at the pump", "", None, "turbo noisy"], "hours": [1.0, 2.0, 3.0, 4.0]},
        index=[10, 20, 30, 40],
    )
    out = est.predict_frame(frame)
    assert list(out.index) == [10, 20, 30, 40]
    assert list(out.columns) == ["prediction", "proba_electrical", "proba_engine", "proba_hydraulic"]
    assert out["prediction"].tolist() == ["hydraulic", None, None, "engine"]
    probas = out.filter(like="proba_").to_numpy()
    assert np.isnan(probas[[1, 2]]).all()
    np.testing.assert_allclose(probas[[0, 3]].sum(axis=1), 1.0)
    single = est.predict([{"description": "turbo noisy"}])[0]["probabilities"]
    assert out.loc[40, "proba_engine"] == pytest.approx(single["engine"])
    with pytest.raises(InvalidInput):
        est.predict_frame(frame.rename(columns={"description": "text"}))


# ---------------------------------------------------------------------- the bundled encoder
@pytest.fixture(scope="module")
def embedded(orders: pd.DataFrame, shared_hub_cache: Path) -> Iterator[TextClassifier]:
    """Trained once on the bundled MiniLM (int8), with this run's shared export cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(encoders._LOCATIONS, "hub_dir", None)
        mp.setitem(encoders._LOCATIONS, "cache_dir", shared_hub_cache)
        yield TextClassifier(candidates=["embedding"]).fit(orders, "y")


def test_changed_encoder_weights_are_a_conflict(embedded: TextClassifier) -> None:
    encoder = embedded.report_["encoder"]
    assert encoder["name"] == "all-MiniLM-L6-v2" and encoder["variant"] == "int8" and encoder["fingerprint"]
    assert embedded.report_["chosen"] == "embedding" and embedded.report_["metrics"]["f1"] > 0.9
    files = embedded.save()
    assert set(files) == {"estimator.json", "features.json", "weights.safetensors"}
    again = TextClassifier.load(files)
    assert again.predict(RECORDS) == embedded.predict(RECORDS)
    again.report_["encoder"]["fingerprint"] = "000000000000"
    with pytest.raises(Conflict):
        again.predict(RECORDS)
    with pytest.raises(Conflict):
        again.explain(RECORDS[:1])

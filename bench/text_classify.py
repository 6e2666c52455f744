"""Trained text classification of excavator work orders against a TF-IDF + logistic-regression baseline.

Data: ../shared/data/maintenance_text/excavators/excavators-cleaned.csv (``SHOPFLOOR_DATA_DIR``
overrides the folder): ``OriginalShorttext`` -> ``MajorSystem``, rows with a label, classes with at
least 20 examples (15 classes). Both are scored by the same outer 5-fold stratified
cross-validation: in each fold the whole ``text_classification`` estimator (its own hold-out split
and inner cross-validated choice among TF-IDF, MiniLM-embedding and combined heads) is fitted on
the training folds and predicts the held-out fold, so its macro-F1 is nested and honest. The
baseline is word uni- and bigram TF-IDF with a class-balanced logistic regression (C=10).
Also reports zero-shot accuracy from the label names alone. Writes section ``text_classify`` of
docs/benchmarks.md and ends with the headline figures.

    .venv/bin/python bench/text_classify.py
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import REPO, machine_info, write_section
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from shopfloor.hub import encoders, service
from shopfloor.hub.checks import MAX_TEXTS
from shopfloor.tasks.text.estimator import TextClassifier

MIN_CLASS = 20
FOLDS = 5
BUDGET_S = 300  # the server's default training budget
TEXT, LABEL = "OriginalShorttext", "MajorSystem"


def load() -> pd.DataFrame:
    data = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))
    frame = pd.read_csv(data / "maintenance_text" / "excavators" / "excavators-cleaned.csv")
    frame = frame.dropna(subset=[LABEL, TEXT])
    counts = frame[LABEL].value_counts()
    return frame[frame[LABEL].isin(counts[counts >= MIN_CLASS].index)].reset_index(drop=True)


def baseline() -> object:
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=10, class_weight="balanced", max_iter=3000),
    )


def zero_shot(texts: list[str], truth: list[str], cache: Path) -> float:
    classes = sorted(set(truth))
    phrases = [c.replace("_", " and ") for c in classes]
    to_class = dict(zip(phrases, classes, strict=True))
    hits = 0
    for i in range(0, len(texts), MAX_TEXTS):
        batch = texts[i : i + MAX_TEXTS]
        out = service.zero_shot(batch, phrases, variant="int8", hub_dir=None, cache_dir=cache)
        hits += sum(to_class[r["ranking"][0]["label"]] == truth[i + r["index"]] for r in out["results"])
    return hits / len(texts)


def main() -> None:
    torch.set_num_threads(2)
    frame = load()
    texts, truth = frame[TEXT].astype(str).tolist(), frame[LABEL].astype(str).to_numpy()
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(texts, truth))
    ours = np.empty(len(texts), dtype=object)
    base = np.empty(len(texts), dtype=object)
    chosen: Counter[str] = Counter()
    skipped: set[str] = set()
    fit_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        encoders.configure(None, cache)
        for k, (train, test) in enumerate(folds):
            started = time.perf_counter()
            model = TextClassifier(seed=k, time_budget_s=BUDGET_S).fit(
                frame.iloc[train][[TEXT, LABEL]], LABEL
            )
            skipped.update(
                w["message"] for w in model.report_["warnings"] if w["code"] == "candidate-skipped"
            )
            fit_s.append(time.perf_counter() - started)
            chosen[model.report_["chosen"]] += 1
            answers = model.predict([{TEXT: t} for t in np.array(texts, dtype=object)[test]])
            ours[test] = [a["label"] for a in answers]
            pipe = baseline().fit([texts[i] for i in train], truth[train])  # type: ignore[attr-defined]
            base[test] = pipe.predict([texts[i] for i in test])
            print(f"fold {k + 1}/{FOLDS}: {model.report_['chosen']}, fit {fit_s[-1]:.0f} s", flush=True)
        zs = zero_shot(texts, truth.tolist(), cache)
    macro, base_macro = f1_score(truth, ours, average="macro"), f1_score(truth, base, average="macro")
    acc, base_acc = accuracy_score(truth, ours), accuracy_score(truth, base)
    majority = float(pd.Series(truth).value_counts(normalize=True).iloc[0])
    info = machine_info()
    lines = [
        "## Text classification of work orders (`bench/text_classify.py`)",
        "",
        f"Command: `.venv/bin/python bench/text_classify.py`; {info['date']}, {info['nproc']} cores "
        f"({info['cpu']}), load average {info['loadavg']}.",
        f"Excavator work orders `{TEXT}` -> `{LABEL}`: {len(texts):,} labelled rows in "
        f"{len(set(truth))} classes with at least {MIN_CLASS} examples; majority-class share {majority:.3f}. "
        f"Outer {FOLDS}-fold stratified cross-validation, the same folds for both; the estimator chooses "
        "its head inside each training part (nested).",
        "",
        "| model | macro-F1 | accuracy |",
        "|---|---|---|",
        f"| `text_classification` (chosen per fold: "
        f"{', '.join(f'{n} x{c}' for n, c in chosen.most_common())}) | {macro:.4f} | {acc:.4f} |",
        f"| baseline: word 1-2-gram TF-IDF + logistic regression | {base_macro:.4f} | {base_acc:.4f} |",
        f"| zero-shot from the label names (MiniLM int8, no training) | - | {zs:.4f} |",
        "",
        f"Training time per fold (about {len(texts) * (FOLDS - 1) // FOLDS:,} texts, embedding included): "
        f"mean {np.mean(fit_s):.0f} s, max {np.max(fit_s):.0f} s, budget {BUDGET_S} s.",
        *(["", "Skipped in some folds: " + "; ".join(sorted(skipped))] if skipped else []),
    ]
    write_section("text_classify", "\n".join(lines))
    print("\n".join(lines))
    print(f"accuracy: {acc:.4f}")
    print(f"zero_shot_accuracy: {zs:.4f}")
    print(f"macro_f1: {macro:.4f}")
    print(f"baseline_macro_f1: {base_macro:.4f}")


if __name__ == "__main__":
    main()

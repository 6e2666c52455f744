"""Stability over seeded splits."""

from __future__ import annotations

import numpy as np

from shopfloor.evaluation.stability import seeded_splits, stability, summarize


def test_seeded_splits_are_distinct_and_stratified() -> None:
    y = np.array([0] * 90 + [1] * 10)
    splits = seeded_splits(100, n_splits=5, stratify=y)
    assert len(splits) == 5
    assert len({tuple(te) for _, te in splits}) == 5
    assert all(y[te].sum() == 2 and len(te) == 20 for _, te in splits)


def test_stability_summarises_each_metric() -> None:
    calls = []

    def fit_and_score(tr: np.ndarray, te: np.ndarray) -> dict[str, float]:
        calls.append(len(te))
        return {"m": float(len(calls))}

    out = stability(fit_and_score, 50, n_splits=5)
    assert out["n"] == 5 and out["metrics"]["m"]["values"] == [1, 2, 3, 4, 5]
    assert (
        out["metrics"]["m"]["mean"] == 3.0
        and abs(out["metrics"]["m"]["std"] - np.std([1, 2, 3, 4, 5], ddof=1)) < 1e-12
    )


def test_summarize_skips_nan() -> None:
    assert summarize({"x": [1.0, float("nan"), 3.0]})["x"]["mean"] == 2.0

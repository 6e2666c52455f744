"""Drift of the inputs together: a domain classifier and the PCA reconstruction error.

Per-input tests miss a change in how inputs go together (torque and speed that used to rise
together no longer do). Two checks see it:

- a **domain classifier**: a model trained to tell window rows from training rows, scored on rows
  it did not see (two folds, each scored by the model fitted on the other). Its AUC is 0.5 when it
  cannot (no drift) and 1 when it always can; ``2 x AUC - 1`` is the effect size; each fold's
  one-sided Mann-Whitney test of window against training scores, Bonferroni over the folds, gives
  the p-value.
- the **reconstruction error** of a PCA fitted on training rows (the components that explain
  :data:`PCA_VARIANCE` of the variance): rows that break the training correlations are far from
  that subspace. The window's errors are compared with those of training rows the PCA did not see.

Inputs are put on one scale by :class:`Encoding` (numeric: centred and scaled by the training
median and spread; categorical: one column per training category), fitted at training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopfloor.monitoring.categorical import category_key
from shopfloor.monitoring.thresholds import CLASSIFIER_FOLDS

#: Label shuffles of a domain classifier's permutation test (its smallest p-value is 1 / 10,001).
PERMUTATIONS = 10_000
PERMUTATION_BLOCK = 500

#: Share of the training variance the PCA components keep.
PCA_VARIANCE = 0.9
#: One-hot columns per categorical input in the encoding (the most frequent training categories).
MAX_LEVELS = 20


@dataclass(frozen=True)
class Encoding:
    """How a table of inputs becomes one numeric matrix, fitted on training rows."""

    numeric: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    categorical: tuple[tuple[str, tuple[str, ...], bool], ...]  # name, levels, boolean

    @classmethod
    def fit(cls, frame: Any, columns: Sequence[Mapping[str, Any]]) -> Encoding:
        """From the training table and its columns (``{"name", "type"}``; numeric, boolean or categorical)."""
        import pandas as pd

        numeric, center, scale, categorical = [], [], [], []
        for col in columns:
            name, kind = col["name"], col["type"]
            if kind == "numeric":
                values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                values = values[np.isfinite(values)]
                if len(values) == 0:
                    continue
                q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
                spread = (q75 - q25) / 1.349 or values.std()
                if spread <= 1e-9 * max(1.0, abs(q50)):  # constant: nothing to relate
                    continue
                numeric.append(name)
                center.append(float(q50))
                scale.append(float(spread))
            elif kind in ("categorical", "boolean"):
                boolean = kind == "boolean"
                keys = pd.Series([category_key(v, boolean) for v in frame[name]]).dropna()
                levels = tuple(str(k) for k in keys.value_counts().index[:MAX_LEVELS])
                if len(levels) > 1:
                    categorical.append((name, levels, boolean))
        return cls(tuple(numeric), tuple(center), tuple(scale), tuple(categorical))

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(levels) for _, levels, _ in self.categorical)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *(name for name, _, _ in self.categorical)]

    def matrix(self, frame: Any) -> np.ndarray:
        """The encoded rows of ``frame`` (missing numbers at the training centre, that is 0)."""
        import pandas as pd

        blocks = []
        for name, c, s in zip(self.numeric, self.center, self.scale, strict=True):
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            blocks.append(np.nan_to_num((values - c) / s, nan=0.0, posinf=0.0, neginf=0.0)[:, None])
        for name, levels, boolean in self.categorical:
            keys = np.array([category_key(v, boolean) for v in frame[name]], dtype=object)
            blocks.append(np.stack([(keys == level).astype(float) for level in levels], axis=1))
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "center": list(self.center),
            "scale": list(self.scale),
            "categorical": [
                {"name": n, "levels": list(levels), "boolean": b} for n, levels, b in self.categorical
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Encoding:
        return cls(
            tuple(str(n) for n in data["numeric"]),
            tuple(float(v) for v in data["center"]),
            tuple(float(v) for v in data["scale"]),
            tuple(
                (str(c["name"]), tuple(str(v) for v in c["levels"]), bool(c["boolean"]))
                for c in data["categorical"]
            ),
        )


def domain_classifier(
    reference: np.ndarray,
    window: np.ndarray,
    *,
    linear: bool = False,
    folds: int = CLASSIFIER_FOLDS,
    seed: int = 0,
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Cross-fitted AUC of a classifier telling ``window`` rows from ``reference`` rows (each fold
    scored by a model fitted on the others, the folds' AUCs averaged), the one-sided p-value that
    window rows score higher (each fold's Mann-Whitney test, Bonferroni over the folds), and the
    out-of-fold scores of each side.

    ``linear``: a logistic regression (embeddings: many dimensions, shifts along directions);
    else gradient-boosted trees (tabular inputs: thresholds, interactions). ``(nan, nan)`` when a
    side has fewer rows than folds.
    """
    empty = np.zeros(0)
    n_ref, n_win = len(reference), len(window)
    k = min(folds, n_ref, n_win)
    if k < 2 or reference.shape[1] == 0:
        return math.nan, math.nan, empty, empty
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    X = np.vstack([reference, window])
    y = np.r_[np.zeros(n_ref, dtype=int), np.ones(n_win, dtype=int)]
    scores = np.zeros(len(y))
    aucs, p_values = [], []
    # one thread: small fits on a request's path, where OpenMP teams on busy cores cost more than
    # they give (ten times slower measured on 2 shared cores)
    with threadpool_limits(1):
        for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
            model = _classifier(linear, seed).fit(X[train], y[train])
            scores[test] = model.predict_proba(X[test])[:, 1]
            held, side = scores[test], y[test]
            aucs.append(float(roc_auc_score(side, held)))
            p_values.append(auc_permutation_p(held, side, seed=seed))
    # each fold's scores come from a model that never saw them, so a permutation test of its labels is
    # exact; pooling the folds' scores is not (measured on unchanged data: p < 0.01 five times too
    # often with a Mann-Whitney test of the pooled scores). Bonferroni over the folds.
    return float(np.mean(aucs)), min(1.0, k * min(p_values)), scores[y == 0], scores[y == 1]


def auc_permutation_p(
    scores: np.ndarray, labels: np.ndarray, permutations: int = PERMUTATIONS, seed: int = 0
) -> float:
    """One-sided permutation p-value that rows labelled 1 score higher than rows labelled 0: the
    share of label shuffles whose rank sum (the AUC up to a constant) is at least the observed one,
    ``(1 + k) / (1 + permutations)``. Ties share their mid-rank, as in the observed value."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    observed = float(ranks[labels == 1].sum())
    rng = np.random.default_rng(seed)
    larger = 0
    for start in range(0, permutations, PERMUTATION_BLOCK):
        size = min(PERMUTATION_BLOCK, permutations - start)
        shuffled = np.stack([rng.permutation(labels) for _ in range(size)], axis=1)
        larger += int(np.sum(ranks @ shuffled >= observed - 1e-9))
    return (1 + larger) / (1 + permutations)


def _classifier(linear: bool, seed: int) -> Any:
    if linear:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=2000)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=60, max_leaf_nodes=8, learning_rate=0.1, l2_regularization=1.0, random_state=seed
    )


def auc_distance(auc: float) -> float:
    """``2 x AUC - 1``, floored at 0: the effect size of a domain classifier in [0, 1]."""
    return math.nan if math.isnan(auc) else max(0.0, 2.0 * auc - 1.0)


def fit_pca(rows: np.ndarray, variance: float = PCA_VARIANCE) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and components (rows) of the PCA keeping ``variance`` of the variance of ``rows``;
    None when that needs every dimension (no subspace to leave) or there are too few rows."""
    n, d = rows.shape
    if d < 2 or n <= d:
        return None
    mean = rows.mean(axis=0)
    _, s, vt = np.linalg.svd(rows - mean, full_matrices=False)
    explained = np.cumsum(s**2) / max(float(np.sum(s**2)), 1e-12)
    k = int(np.searchsorted(explained, variance) + 1)
    if k >= d:
        return None
    return mean, vt[:k]


def reconstruction_errors(rows: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Each row's squared distance from the PCA subspace."""
    centred = rows - mean
    projected = centred @ components.T @ components
    return np.asarray(np.sum((centred - projected) ** 2, axis=1))


def reconstruction_test(reference: np.ndarray, window: np.ndarray) -> tuple[float, float, float]:
    """The ratio of mean window error to mean training error, the one-sided p-value that window
    errors are larger (Mann-Whitney), and the KS distance between the two error distributions."""
    if len(reference) == 0 or len(window) == 0:
        return math.nan, math.nan, math.nan
    from scipy.stats import ks_2samp, mannwhitneyu

    ratio = float(window.mean() / max(float(reference.mean()), 1e-12))
    p = float(mannwhitneyu(window, reference, alternative="greater").pvalue)
    distance = float(ks_2samp(reference, window, method="asymp").statistic)
    return ratio, p, distance

"""One comparison per profiled variable: a window's values against the training profile.

Each function returns a :class:`Finding` with the test's statistic, its raw p-value and the
effect size (``distance`` in [0, 1], see :class:`~shopfloor.monitoring.thresholds.Thresholds`);
:mod:`shopfloor.monitoring.report` adjusts the p-values for the number of tests, decides what
drifted and words it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.monitoring import categorical as C
from shopfloor.monitoring import numeric as N
from shopfloor.monitoring import text as T
from shopfloor.monitoring.embeddings import mean_shift, mmd_test
from shopfloor.monitoring.multivariate import (
    auc_distance,
    domain_classifier,
    reconstruction_errors,
    reconstruction_test,
)
from shopfloor.monitoring.profile import Feature, Multivariate
from shopfloor.monitoring.thresholds import EMBEDDING_ROWS, MULTIVARIATE_ROWS

MISSING = "(missing)"
SCORE_AXIS = "classifier score (window vs training)"


@dataclass
class Finding:
    """The comparison of one variable (or of the inputs together) between training and a window."""

    name: str
    kind: str  # numeric, categorical, embedding, together
    role: str  # input, output, together
    test: str  # ks, chi2, mmd, domain_classifier, reconstruction
    statistic: float
    p_value: float
    distance: float
    details: dict[str, Any] = field(default_factory=dict)
    p_adjusted: float = math.nan
    drifted: bool = False
    sentence: str = ""
    #: what a chart draws of each side (values, shares or scores); not part of the report
    plot: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "p_adjusted": _finite(self.p_adjusted),
            "distance": _finite(self.distance),
            "drifted": self.drifted,
            "sentence": self.sentence,
            "details": self.details,
        }


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def window_values(feature: Feature, frame: Any, vocabularies: dict[str, list[str]]) -> Any:
    """The window's values of an input ``feature`` (a text measure computed from its column)."""
    values = frame[feature.column]
    if feature.measure == T.WORDS:
        return T.word_counts(values)
    if feature.measure == T.UNSEEN:
        return T.unseen_shares(values, set(vocabularies.get(feature.column, ())))
    return values


def numeric(feature: Feature, values: Any) -> Finding:
    """KS test and PSI of a numeric variable, with a test of its missing share when either side
    has missing values (the two p-values then combined by Bonferroni)."""
    numbers, missing, bad = N.as_numbers(values)
    rows = len(numbers) + missing
    ks, p_ks = N.ks_test(feature.sample, numbers)
    p_missing = N.missing_test(feature.missing, feature.rows, missing, rows)
    ref_missing = feature.missing / feature.rows if feature.rows else 0.0
    win_missing = missing / rows if rows else 0.0
    p = p_ks if math.isnan(p_missing) else min(1.0, 2 * np.nanmin([p_ks, p_missing]))
    distance = np.nanmax([ks, abs(win_missing - ref_missing)]) if rows else math.nan
    window = N.summary(numbers, win_missing)
    details = {
        "reference": feature.summary,
        "window": window,
        "psi": N.psi(feature.shares, N.bin_shares(numbers, feature.edges)) if len(numbers) else None,
        "ks": _finite(ks),
        "missing_p_value": _finite(p_missing),
        "not_numbers": bad,
        "unit": feature.unit,
        "measure": feature.measure,
    }
    return Finding(
        feature.name, "numeric", feature.role, "ks", ks, p, float(distance), details,
        plot={"reference": feature.sample, "window": numbers},
    )


def categorical(feature: Feature, values: Any) -> Finding:
    """Chi-squared test, Jensen-Shannon and total variation distance of a categorical variable
    (missing values counted as one more category when either side has them)."""
    counts, missing = C.count(values, feature.boolean)
    reference = dict(feature.counts)
    if missing or feature.missing:
        reference[MISSING], counts[MISSING] = feature.missing, missing
    names, ref, win, new = C.align(reference, counts, feature.complete)
    stat, p = C.chi_squared(ref, win)
    p_ref, p_win = C.shares(ref), C.shares(win)
    details = {
        "reference": dict(zip(names, map(float, p_ref), strict=True)),
        "window": dict(zip(names, map(float, p_win), strict=True)),
        "new": new,
        "js": C.jensen_shannon(p_ref, p_win),
        "psi": N.psi(p_ref, p_win),
        "rows": int(win.sum()),
    }
    return Finding(
        feature.name, "categorical", feature.role, "chi2", stat, p, C.total_variation(p_ref, p_win),
        details, plot={"names": names, "reference": p_ref, "window": p_win},
    )


def embedding(feature: Feature, rows: np.ndarray | None, what: str, seed: int = 0) -> Finding:
    """MMD permutation test and a cross-validated linear domain classifier on embeddings."""
    if rows is None or len(rows) < 2:
        return Finding(feature.name, "embedding", "input", "mmd", math.nan, math.nan, math.nan,
                       {"of": what, "rows": 0 if rows is None else len(rows)})
    rng = _rng(seed)
    if len(rows) > EMBEDDING_ROWS:
        rows = rows[rng.choice(len(rows), EMBEDDING_ROWS, replace=False)]
    reference = feature.sample.astype(np.float64)
    window = np.asarray(rows, dtype=np.float64)
    mmd2, p = mmd_test(reference, window, feature.bandwidth, seed=seed)
    auc, _, ref_scores, win_scores = domain_classifier(reference, window, linear=True, seed=seed)
    details = {"of": what, "mmd2": mmd2, "auc": _finite(auc), "rows": int(len(window)),
               **mean_shift(reference, window)}
    return Finding(
        feature.name, "embedding", "input", "mmd", mmd2, p, auc_distance(auc), details,
        plot={"reference": ref_scores, "window": win_scores, "axis": SCORE_AXIS},
    )


def together(mv: Multivariate, frame: Any, seed: int = 0) -> list[Finding]:
    """The domain classifier on the inputs together and, where the profile has a PCA basis, the
    reconstruction error."""
    rng = _rng(seed)
    window = mv.encoding.matrix(frame)
    if len(window) > MULTIVARIATE_ROWS:
        window = window[rng.choice(len(window), MULTIVARIATE_ROWS, replace=False)]
    auc, p, ref_scores, win_scores = domain_classifier(mv.rows, window, seed=seed)
    columns = mv.encoding.columns
    found = [
        Finding(
            "inputs together", "together", "together", "domain_classifier", auc, p, auc_distance(auc),
            {"auc": _finite(auc), "columns": columns, "rows": int(len(window))},
            plot={"reference": ref_scores, "window": win_scores, "axis": SCORE_AXIS},
        )
    ]
    if mv.pca_mean is not None and mv.pca_components is not None and mv.errors is not None:
        errors = reconstruction_errors(window, mv.pca_mean, mv.pca_components)
        ratio, p_rec, distance = reconstruction_test(mv.errors, errors)
        found.append(
            Finding(
                "relations between inputs", "together", "together", "reconstruction", ratio, p_rec, distance,
                {"ratio": _finite(ratio), "components": int(len(mv.pca_components)), "columns": columns},
                plot={"reference": mv.errors, "window": errors, "axis": "PCA reconstruction error"},
            )
        )
    return found

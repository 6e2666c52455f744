"""Drift of one numeric variable: the Kolmogorov-Smirnov two-sample test and the population
stability index (PSI), and a test of a change in the share of missing values.

The KS distance is the largest gap between the two empirical cumulative distributions (0: the
same, 1: no overlap); its p-value says whether the gap is larger than two samples of one
distribution would show. The PSI compares the shares of rows in the training deciles: under
0.1 is read as stable, 0.1-0.25 as a moderate shift, above 0.25 as a major one (the credit-risk
convention it comes from).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.monitoring.thresholds import PSI_BINS

#: Added to empty bins so that the PSI stays finite (a bin no row fell into).
PSI_FLOOR = 1e-4


def as_numbers(values: Any) -> tuple[np.ndarray, int, int]:
    """The finite numbers among ``values``, how many were missing (None, NaN, blank), and how many
    were present but not numbers (counted as missing by the checks, and reported)."""
    import pandas as pd

    series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    missing = series.isna()
    if series.dtype == object:
        missing |= series.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    numbers = pd.to_numeric(series.where(~missing), errors="coerce")
    arr = numbers.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(arr)
    bad = int((~finite & ~missing.to_numpy()).sum())  # text, infinities
    return arr[finite], int(missing.sum()) + bad, bad


def ks_test(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """The two-sample KS distance and its p-value; ``(nan, nan)`` when either side is empty."""
    if len(reference) == 0 or len(window) == 0:
        return math.nan, math.nan
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, window, method="asymp")
    return float(result.statistic), float(result.pvalue)


def psi_edges(values: np.ndarray, bins: int = PSI_BINS) -> list[float]:
    """Inner cut points of the PSI bins: the training values' quantiles, without repeats (a column
    with a few distinct values gets fewer bins). Bins are right-closed: ``(-inf, e0], (e0, e1], ...``."""
    if len(values) == 0:
        return []
    cuts = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    unique = np.unique(cuts)
    # the top cut at the maximum would leave an always-empty last bin
    return [float(c) for c in unique if c < values.max()]


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """The share of ``values`` in each bin of :func:`psi_edges` (``len(edges) + 1`` shares)."""
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="left"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


Shares = Sequence[float] | np.ndarray


def psi(expected: Shares, actual: Shares, floor: float = PSI_FLOOR) -> float:
    """Population stability index of ``actual`` shares against ``expected`` ones (same bins)."""
    e = np.maximum(np.asarray(expected, dtype=float), floor)
    a = np.maximum(np.asarray(actual, dtype=float), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def missing_test(ref_missing: int, ref_rows: int, win_missing: int, win_rows: int) -> float:
    """p-value of a change in the share of missing values (chi-squared on the 2x2 table, Fisher's
    exact test when a cell is small); NaN when neither side has a missing value."""
    if ref_missing == 0 and win_missing == 0:
        return math.nan
    table = np.array([[ref_missing, ref_rows - ref_missing], [win_missing, win_rows - win_missing]])
    if (table.sum(axis=1) == 0).any() or (table.sum(axis=0) == 0).any():
        return math.nan
    from scipy.stats import chi2_contingency, fisher_exact

    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if expected.min() < 5:
        return float(fisher_exact(table).pvalue)
    return float(chi2_contingency(table).pvalue)


def summary(values: np.ndarray, missing_share: float) -> dict[str, Any]:
    """What a report shows of one side: mean, standard deviation, quartiles, range, missing share."""
    if len(values) == 0:
        return {"n": 0, "missing": missing_share}
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "n": int(len(values)),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "p5": float(q[0]),
        "p25": float(q[1]),
        "median": float(q[2]),
        "p75": float(q[3]),
        "p95": float(q[4]),
        "max": float(values.max()),
        "missing": missing_share,
    }

"""Drift of texts and images, through the embeddings their model family computes.

Two views of the same question (do the window's embeddings come from the training
distribution?):

- **MMD** (maximum mean discrepancy) with a Gaussian kernel whose bandwidth is the median
  distance between training embeddings; the p-value comes from a permutation test (the window
  and training rows shuffled :data:`~shopfloor.monitoring.thresholds.PERMUTATIONS` times), so it
  holds for any embedding distribution.
- a **domain classifier** (logistic regression) telling window embeddings from training ones,
  with cross-validation: ``2 x AUC - 1`` is the effect size reported and ranked.
"""

from __future__ import annotations

import math

import numpy as np

from shopfloor.monitoring.thresholds import PERMUTATIONS

#: Training rows used to set the kernel bandwidth (pairs grow with the square).
BANDWIDTH_ROWS = 300
#: Permutations evaluated per matrix product (bounds memory: rows x this many floats).
PERMUTATION_BLOCK = 250


def median_bandwidth(reference: np.ndarray, seed: int = 0) -> float:
    """The median Euclidean distance between training embeddings (the kernel's length scale)."""
    rng = np.random.default_rng(seed)
    rows = reference if len(reference) <= BANDWIDTH_ROWS else reference[
        rng.choice(len(reference), BANDWIDTH_ROWS, replace=False)
    ]
    d2 = _squared_distances(rows.astype(np.float64))
    upper = d2[np.triu_indices(len(rows), k=1)]
    median = float(np.sqrt(np.median(upper))) if len(upper) else 1.0
    return median if median > 0 else 1.0


def _squared_distances(x: np.ndarray) -> np.ndarray:
    norms = np.sum(x * x, axis=1)
    return np.maximum(norms[:, None] + norms[None, :] - 2.0 * (x @ x.T), 0.0)


def mmd_test(
    reference: np.ndarray,
    window: np.ndarray,
    bandwidth: float,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> tuple[float, float]:
    """Unbiased MMD² between the two samples and its permutation p-value ``(1 + k) / (1 + B)``,
    ``k`` the permutations at least as large as the observed value. ``(nan, nan)`` when a side
    has fewer than two rows."""
    n, m = len(reference), len(window)
    if n < 2 or m < 2:
        return math.nan, math.nan
    x = np.vstack([reference, window]).astype(np.float64)
    kernel = np.exp(-_squared_distances(x) / (2.0 * bandwidth * bandwidth))
    np.fill_diagonal(kernel, 0.0)  # the unbiased estimate leaves out each row's pair with itself
    total = float(kernel.sum())
    row_sums = kernel.sum(axis=1)

    def statistic(z: np.ndarray) -> np.ndarray:
        """MMD² for each column of ``z`` (1 marks a training row), all in one matrix product."""
        within_a = np.sum(z * (kernel @ z), axis=0)
        across = z.T @ row_sums - within_a
        within_b = total - within_a - 2.0 * across
        return np.asarray(within_a / (n * (n - 1)) + within_b / (m * (m - 1)) - 2.0 * across / (n * m))

    labels = np.r_[np.ones(n), np.zeros(m)]
    observed = float(statistic(labels[:, None])[0])
    rng = np.random.default_rng(seed)
    larger = 0
    for start in range(0, permutations, PERMUTATION_BLOCK):
        size = min(PERMUTATION_BLOCK, permutations - start)
        z = np.stack([rng.permutation(labels) for _ in range(size)], axis=1)
        larger += int(np.sum(statistic(z) >= observed))
    return observed, (1 + larger) / (1 + permutations)


def mean_shift(reference: np.ndarray, window: np.ndarray) -> dict[str, float]:
    """How far the window's mean embedding moved: the distance between the means relative to the
    training rows' typical distance from their mean, and the cosine similarity of the means."""
    ref_mean, win_mean = reference.mean(axis=0), window.mean(axis=0)
    spread = float(np.sqrt(np.mean(np.sum((reference - ref_mean) ** 2, axis=1)))) or 1.0
    norms = float(np.linalg.norm(ref_mean) * np.linalg.norm(win_mean))
    return {
        "relative_shift": float(np.linalg.norm(win_mean - ref_mean)) / spread,
        "cosine": float(ref_mean @ win_mean / norms) if norms else math.nan,
    }

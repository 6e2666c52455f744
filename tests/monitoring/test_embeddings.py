"""The MMD permutation test on embeddings: the matrix form equals the direct sum, and it sees a
move of the embeddings' mean that a resample does not show."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopfloor.monitoring import embeddings as E


def _direct_mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * bandwidth**2)))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_matrix_statistic_is_the_unbiased_mmd() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)), rng.normal(0.5, 1, size=(9, 3))
    mmd2, p = E.mmd_test(x, y, bandwidth=1.3, permutations=50)
    assert mmd2 == pytest.approx(_direct_mmd2(x, y, 1.3))
    assert 1 / 51 <= p <= 1


def test_mmd_sees_a_moved_mean_and_not_a_resample() -> None:
    rng = np.random.default_rng(1)
    directions = rng.normal(size=(8, 32))

    def texts(n: int, topic: np.ndarray) -> np.ndarray:
        rows = rng.normal(size=(n, 8)) @ directions + topic
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)  # unit length, as sentence embeddings

    base, other = np.zeros(32), rng.normal(size=32) * 2
    ref = texts(300, base)
    bandwidth = E.median_bandwidth(ref)
    assert 0.5 < bandwidth < 2.0  # unit vectors: distances between 0 and 2
    _, p_same = E.mmd_test(ref, texts(200, base), bandwidth, permutations=200)
    _, p_moved = E.mmd_test(ref, texts(200, other), bandwidth, permutations=200)
    assert p_same > 0.01 and p_moved == pytest.approx(1 / 201)
    shift = E.mean_shift(ref, texts(200, other))
    assert shift["relative_shift"] > 0.5 and shift["cosine"] < 0.95
    assert all(math.isnan(v) for v in E.mmd_test(ref, ref[:1], bandwidth))

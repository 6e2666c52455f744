"""Level changes of one series: binary segmentation with a CUSUM test on the level.

The series is first made plain: its seasonal profile removed (``period`` points; per phase the
median deviation from a rolling median), and each reading pulled to within ``CLIP`` noise levels of
a five-point running median, so a lone spike cannot pass for a change of level while a step keeps
its full height. The noise level ``sigma`` is the robust spread of one step's change (MAD of the
first differences / sqrt 2), which neither spikes nor steps move much.

In a stretch of ``n`` readings the cumulative sum of deviations from the stretch's mean, ``S_j``,
peaks where the level changes. Without a change, ``max |S_j| / (sigma sqrt n)`` follows the largest
excursion of a Brownian bridge (Kolmogorov's distribution, ``K``), so ``K(c)`` is the confidence
that the stretch changes level at the peak. A peak with confidence at least ``threshold`` that
leaves at least ``min_size`` readings on each side splits the stretch, and both halves are tested
again, until no stretch splits; a peak nearer an edge is no change point, and the rest of the
stretch is tested without the readings beyond it.

Each reading's confidence score is the confidence of a change at that reading within the final
stretch that holds it (below ``threshold`` everywhere but at the change points, which keep the
confidence they were found with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Readings are pulled to within this many noise levels of their five-point running median.
CLIP = 3.0


@dataclass(frozen=True)
class Changes:
    """``points``: indices where a new level starts (ascending); ``confidence``: per reading, in
    [0, 1]; ``levels``: per reading, the median of its stretch (after the seasonal profile)."""

    points: list[int]
    confidence: np.ndarray
    levels: np.ndarray


def kolmogorov(c: float) -> float:
    """P(sup |Brownian bridge| <= c): the confidence of a CUSUM peak ``c`` noise levels high."""
    if c <= 0.3:  # the series below converges slowly there, to a value under 1e-5
        return 0.0
    total, j, term = 0.0, 1, 1.0
    while term > 1e-16:
        term = math.exp(-2.0 * j * j * c * c)
        total += term if j % 2 else -term
        j += 1
    return min(1.0, max(0.0, 1.0 - 2.0 * total))


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    half = width // 2
    padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.median(windows, axis=1)


def deseasoned(x: np.ndarray, period: int) -> np.ndarray:
    """``x`` less its seasonal profile (``period`` readings; 0 or one not held twice: ``x`` as it is)."""
    if period < 2 or 2 * period > len(x):
        return x
    trend = _running_median(x, period + 1 if period % 2 == 0 else period)
    phase = np.arange(len(x)) % period
    rest = x - trend
    profile = np.array([np.median(rest[phase == p]) for p in range(period)])
    return x - (profile - np.median(profile))[phase]


def noise_level(x: np.ndarray) -> float:
    """The robust spread of one reading around its level (from the first differences)."""
    d = np.diff(x)
    if len(d) == 0:
        return 0.0
    mad = 1.4826 * float(np.median(np.abs(d - np.median(d))))
    if mad <= 0:
        mad = float(np.std(d))
    return mad / math.sqrt(2.0)


def plain(x: np.ndarray, period: int) -> tuple[np.ndarray, float]:
    """The series deseasoned with its spikes pulled in, and its noise level."""
    y = deseasoned(np.asarray(x, float), period)
    sigma = noise_level(y)
    if len(y) >= 5 and sigma > 0:
        med = _running_median(y, 5)
        y = med + np.clip(y - med, -CLIP * sigma, CLIP * sigma)
    return y, sigma


def _cusum(y: np.ndarray, sigma: float) -> np.ndarray:
    """Per reading j of the stretch, |S_j| / (sigma sqrt n): a change between j - 1 and j."""
    n = len(y)
    s = np.concatenate([[0.0], np.cumsum(y - y.mean())])[:-1]
    return np.abs(s) / (sigma * math.sqrt(n)) if sigma > 0 else np.zeros(n)


def detect(x: np.ndarray, period: int, min_size: int, threshold: float) -> Changes:
    """The level changes of ``x`` (see the module docstring)."""
    y, sigma = plain(x, period)
    n = len(y)
    found: dict[int, float] = {}
    stack = [(0, n)]
    while stack:
        a, b = stack.pop()
        if b - a < 2 * min_size or sigma <= 0:
            continue
        stat = _cusum(y[a:b], sigma)
        j = int(np.argmax(stat[1:])) + 1
        if kolmogorov(float(stat[j])) < threshold:
            continue
        if j < min_size:  # the change lies too near an edge to count: test the rest without it
            stack.append((a + j, b))
        elif b - a - j < min_size:
            stack.append((a, a + j))
        else:
            found[a + j] = kolmogorov(float(stat[j]))
            stack.extend([(a, a + j), (a + j, b)])
    points = sorted(found)
    confidence = np.zeros(n)
    levels = np.zeros(n)
    bounds = [0, *points, n]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        levels[a:b] = np.median(y[a:b])
        if sigma > 0 and b - a > 1:
            confidence[a:b] = [kolmogorov(float(c)) for c in _cusum(y[a:b], sigma)]
        confidence[a] = 0.0
    for p, c in found.items():
        confidence[p] = c
    return Changes(points, confidence, levels)

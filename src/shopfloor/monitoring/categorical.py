"""Drift of one categorical variable: the chi-squared test of homogeneity and the Jensen-Shannon
distance between the category shares, with the total variation distance as the effect size.

Values are compared as text keys (:func:`category_key`): ``1``, ``1.0`` and ``"1"`` are one
category, booleans are ``true`` / ``false``. The training counts of at most
:data:`~shopfloor.monitoring.thresholds.MAX_CATEGORIES` categories are kept; the rest is one
:data:`OTHER` bucket, and a window value outside the kept ones then falls in it rather than
being called new.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from shopfloor.monitoring.thresholds import MAX_CATEGORIES

OTHER = "(other)"
#: A category the window test pools with others when fewer rows than this are expected in it.
MIN_EXPECTED = 5
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


def category_key(value: Any, boolean: bool = False) -> str | None:
    """The key ``value`` is counted under, or None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "null"):
        return None
    if boolean:
        low = text.lower()
        if low in _TRUE:
            return "true"
        if low in _FALSE:
            return "false"
    return text


def count(values: Iterable[Any], boolean: bool = False) -> tuple[Counter[str], int]:
    """Counts of each key among ``values`` and the number of missing values."""
    found: Counter[str] = Counter()
    missing = 0
    for value in values:
        key = category_key(value, boolean)
        if key is None:
            missing += 1
        else:
            found[key] += 1
    return found, missing


def keep_top(counts: Mapping[str, int], limit: int = MAX_CATEGORIES) -> tuple[dict[str, int], bool]:
    """The ``limit`` most frequent categories with the rest summed as :data:`OTHER`, and whether
    every category was kept (then a window value outside them is new)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ranked[:limit])
    rest = sum(n for _, n in ranked[limit:])
    if rest:
        kept[OTHER] = kept.get(OTHER, 0) + rest
    return kept, rest == 0


def align(
    reference: Mapping[str, int], window: Mapping[str, int], complete: bool
) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """Categories, reference and window counts over them, and the window's new categories.

    A window category the reference lacks is new when the reference kept every category; else it
    may be one of the rare ones counted as :data:`OTHER` and is counted there.
    """
    new = sorted(c for c in window if c not in reference) if complete else []
    names = list(reference) + new
    win = dict(window)
    if not complete:
        strays = [c for c in win if c not in reference]
        win[OTHER] = win.get(OTHER, 0) + sum(win.pop(c) for c in strays)
        if OTHER not in names and win[OTHER]:
            names.append(OTHER)
    ref = np.array([reference.get(c, 0) for c in names], dtype=float)
    counts = np.array([win.get(c, 0) for c in names], dtype=float)
    return names, ref, counts, new


def chi_squared(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Chi-squared test that the window's rows fall in the categories as the training rows did
    (a 2 x k table of counts; categories expecting fewer than :data:`MIN_EXPECTED` window rows
    are pooled). ``(0, 1)`` when fewer than two categories remain."""
    if window.sum() == 0 or reference.sum() == 0:
        return math.nan, math.nan
    expected = (reference + window) * window.sum() / (reference.sum() + window.sum())
    small = expected < MIN_EXPECTED
    ref, win = reference[~small], window[~small]
    if small.any():
        ref = np.append(ref, reference[small].sum())
        win = np.append(win, window[small].sum())
    keep = (ref + win) > 0
    if keep.sum() < 2:
        return 0.0, 1.0
    from scipy.stats import chi2_contingency

    result = chi2_contingency(np.vstack([ref[keep], win[keep]]), correction=False)
    return float(result.statistic), float(result.pvalue)


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros_like(counts)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two share vectors over the same categories."""
    from scipy.spatial.distance import jensenshannon

    if p.sum() == 0 or q.sum() == 0:
        return math.nan
    return float(jensenshannon(p, q, base=2))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance between two share vectors: the share of rows that changed category."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())

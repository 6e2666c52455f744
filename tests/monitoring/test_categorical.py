"""Chi-squared, Jensen-Shannon and total variation on category counts with known answers."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from shopfloor.monitoring import categorical as C


def test_keys_merge_spellings_of_one_value() -> None:
    assert C.category_key(1) == C.category_key(1.0) == C.category_key(" 1 ") == "1"
    assert C.category_key(True) == "true" and C.category_key("yes", boolean=True) == "true"
    assert C.category_key("0", boolean=True) == "false" and C.category_key("yes") == "yes"
    assert C.category_key(None) is C.category_key(float("nan")) is C.category_key("  ") is None


def test_count_and_keep_top() -> None:
    counts, missing = C.count(["a", "b", "a", None, "c", ""])
    assert counts == Counter({"a": 2, "b": 1, "c": 1}) and missing == 2
    kept, complete = C.keep_top({"a": 5, "b": 3, "c": 1, "d": 1}, limit=2)
    assert kept == {"a": 5, "b": 3, C.OTHER: 2} and not complete
    assert C.keep_top({"a": 5}, limit=2) == ({"a": 5}, True)


def test_align_calls_values_new_only_when_training_kept_every_category() -> None:
    names, ref, win, new = C.align({"L": 60, "M": 30, "H": 10}, {"L": 5, "X": 5}, complete=True)
    assert names == ["L", "M", "H", "X"] and new == ["X"]
    assert ref.tolist() == [60, 30, 10, 0] and win.tolist() == [5, 0, 0, 5]
    names, ref, win, new = C.align({"L": 60, C.OTHER: 40}, {"L": 5, "X": 5}, complete=False)
    assert new == [] and dict(zip(names, win.tolist(), strict=True)) == {"L": 5, C.OTHER: 5}


def test_chi_squared_sees_a_mix_change_and_not_a_resample() -> None:
    rng = np.random.default_rng(0)
    shares = [0.6, 0.3, 0.1]
    ref = np.bincount(rng.choice(3, 10_000, p=shares), minlength=3).astype(float)
    same = np.bincount(rng.choice(3, 500, p=shares), minlength=3).astype(float)
    moved = np.bincount(rng.choice(3, 500, p=[0.35, 0.2, 0.45]), minlength=3).astype(float)
    assert C.chi_squared(ref, same)[1] > 0.01
    assert C.chi_squared(ref, moved)[1] < 1e-30
    # a category expecting fewer than 5 window rows is pooled, not dropped
    assert C.chi_squared(np.array([1000.0, 1000.0, 2.0]), np.array([50.0, 50.0, 0.0]))[1] > 0.5
    assert C.chi_squared(np.array([10.0, 0.0]), np.array([5.0, 0.0])) == (0.0, 1.0)
    assert all(math.isnan(v) for v in C.chi_squared(np.array([1.0]), np.array([0.0])))


def test_distances() -> None:
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.0, 1.0])
    assert C.jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-9)
    assert C.jensen_shannon(p, q) == pytest.approx(1.0)
    assert C.total_variation(p, q) == 1.0
    assert C.total_variation(np.array([0.9, 0.1]), np.array([0.6, 0.4])) == pytest.approx(0.3)
    assert C.shares(np.array([2.0, 6.0])).tolist() == [0.25, 0.75]

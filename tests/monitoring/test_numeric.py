"""KS, PSI and the missing-share test on synthetic samples with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopfloor.monitoring import numeric as N

RNG = np.random.default_rng(0)


def test_ks_sees_a_shift_and_not_a_resample() -> None:
    ref = RNG.normal(size=2000)
    same_d, same_p = N.ks_test(ref, RNG.normal(size=500))
    assert same_d < 0.08 and same_p > 0.01
    moved_d, moved_p = N.ks_test(ref, RNG.normal(0.5, 1.0, size=500))
    assert 0.12 < moved_d < 0.3 and moved_p < 1e-6
    assert all(math.isnan(v) for v in N.ks_test(ref, np.zeros(0)))


def test_psi_matches_its_formula_and_is_zero_for_equal_shares() -> None:
    assert N.psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert N.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)
    assert math.isfinite(N.psi([0.5, 0.5], [1.0, 0.0]))  # an empty bin stays finite


def test_psi_bins_are_training_deciles_and_few_for_a_discrete_column() -> None:
    values = RNG.normal(size=10_000)
    edges = N.psi_edges(values)
    assert len(edges) == 9
    assert N.bin_shares(values, edges) == pytest.approx(np.full(10, 0.1), abs=0.002)
    discrete = RNG.choice([1.0, 2.0, 3.0], size=1000, p=[0.2, 0.5, 0.3])
    shares = N.bin_shares(discrete, N.psi_edges(discrete))
    assert len(shares) <= 3 and shares.sum() == pytest.approx(1.0)
    assert N.psi(N.bin_shares(discrete, N.psi_edges(discrete)), shares) == 0.0


def test_as_numbers_counts_missing_and_stray_text() -> None:
    numbers, missing, bad = N.as_numbers([1.5, "2", None, "", "n/a", float("nan"), float("inf")])
    assert numbers.tolist() == [1.5, 2.0]
    assert (missing, bad) == (5, 2)  # "n/a" and infinity are present but not numbers


def test_missing_share_change_is_tested() -> None:
    assert math.isnan(N.missing_test(0, 1000, 0, 500))
    assert N.missing_test(20, 1000, 200, 500) < 1e-20
    assert N.missing_test(20, 1000, 10, 500) > 0.5
    assert 0 < N.missing_test(1, 1000, 2, 50) < 0.05  # small counts: Fisher's exact test


def test_summary_of_one_side() -> None:
    s = N.summary(np.arange(101, dtype=float), 0.25)
    assert (s["n"], s["median"], s["min"], s["max"], s["missing"]) == (101, 50.0, 0.0, 100.0, 0.25)
    assert N.summary(np.zeros(0), 1.0) == {"n": 0, "missing": 1.0}

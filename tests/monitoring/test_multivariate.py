"""The inputs together: the domain classifier and the PCA reconstruction error see a change in how
inputs go together that per-input tests cannot see."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from shopfloor.monitoring import multivariate as MV
from shopfloor.monitoring.numeric import ks_test
from shopfloor.monitoring.thresholds import CLASSIFIER_FOLDS


def _pairs(n: int, sign: float, rng: np.random.Generator) -> pd.DataFrame:
    """Torque rising with speed (sign 1) or falling with it (sign -1): same marginals either way."""
    speed = rng.normal(size=n)
    torque = sign * speed + 0.3 * rng.normal(size=n)
    return pd.DataFrame({"speed": speed, "torque": torque, "noise": rng.normal(size=n)})


COLUMNS = [{"name": c, "type": "numeric"} for c in ("speed", "torque", "noise")]


def test_a_broken_correlation_is_seen_together_but_not_input_by_input() -> None:
    rng = np.random.default_rng(0)
    train, same, broken = _pairs(2000, 1, rng), _pairs(500, 1, rng), _pairs(500, -1, rng)
    encoding = MV.Encoding.fit(train, COLUMNS)
    ref = encoding.matrix(train)
    for column in ("speed", "torque"):
        assert ks_test(train[column].to_numpy(), broken[column].to_numpy())[1] > 0.001

    auc, p, ref_scores, win_scores = MV.domain_classifier(ref[:1000], encoding.matrix(same))
    assert 0.4 < auc < 0.6 and p > 0.01 and len(ref_scores) == 1000 and len(win_scores) == 500
    auc, p, _, _ = MV.domain_classifier(ref[:1000], encoding.matrix(broken))
    floor = CLASSIFIER_FOLDS / (MV.PERMUTATIONS + 1)  # no shuffle of either fold did as well
    assert auc > 0.85 and p == pytest.approx(floor) and MV.auc_distance(auc) > 0.7

    fitted = MV.fit_pca(ref[:1000])
    assert fitted is not None
    mean, components = fitted
    assert len(components) == 2  # speed and torque share one direction, noise the other
    held = MV.reconstruction_errors(ref[1000:], mean, components)
    same_errors = MV.reconstruction_errors(encoding.matrix(same), mean, components)
    ratio, p, _ = MV.reconstruction_test(held, same_errors)
    assert 0.8 < ratio < 1.25 and p > 0.01
    ratio, p, distance = MV.reconstruction_test(
        held, MV.reconstruction_errors(encoding.matrix(broken), mean, components)
    )
    assert ratio > 10 and p < 1e-50 and distance > 0.7


def test_linear_classifier_and_too_few_rows() -> None:
    rng = np.random.default_rng(1)
    ref, moved = rng.normal(size=(400, 5)), rng.normal(0.8, 1, size=(200, 5))
    auc, p, _, _ = MV.domain_classifier(ref, moved, linear=True)
    assert auc > 0.8 and p < 0.001
    assert math.isnan(MV.domain_classifier(rng.normal(size=(10, 2)), rng.normal(size=(1, 2)))[0])
    assert MV.fit_pca(rng.normal(size=(5, 1))) is None


def test_the_permutation_test_of_a_fold_is_exact_and_handles_ties() -> None:
    labels = np.r_[np.zeros(50, dtype=int), np.ones(50, dtype=int)]
    assert MV.auc_permutation_p(labels.astype(float), labels, permutations=999) == pytest.approx(1 / 1000)
    assert MV.auc_permutation_p(1.0 - labels, labels, permutations=999) == 1.0
    assert MV.auc_permutation_p(np.full(100, 0.3), labels, permutations=999) == 1.0  # all tied: no evidence
    rng = np.random.default_rng(0)
    p = [MV.auc_permutation_p(rng.integers(0, 4, 100).astype(float), labels, 199, seed=k) for k in range(200)]
    assert 0.02 <= np.mean(np.array(p) < 0.1) <= 0.18  # about uniform on data without drift


def test_encoding_scales_numbers_one_hots_categories_and_round_trips() -> None:
    train = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, 5.0],
            "k": ["a", "b", "a", "b", "c"],
            "flat": [7.0] * 5,
            "b": [1, 0, 1, 0, 1],
        }
    )
    columns = [
        {"name": "x", "type": "numeric"},
        {"name": "k", "type": "categorical"},
        {"name": "flat", "type": "numeric"},
        {"name": "b", "type": "boolean"},
    ]
    encoding = MV.Encoding.fit(train, columns)
    assert encoding.numeric == ("x",)  # a constant column relates to nothing
    assert encoding.columns == ["x", "k", "b"] and encoding.width == 1 + 3 + 2
    again = MV.Encoding.from_dict(encoding.to_dict())
    assert again == encoding
    window = pd.DataFrame({"x": [3.0, None], "k": ["a", "zzz"], "flat": [7.0, 7.0], "b": [True, "false"]})
    rows = again.matrix(window)
    assert rows.shape == (2, 6)
    assert rows[1, 0] == 0.0 and rows[1, 1:4].sum() == 0.0  # missing at the centre, unseen category nowhere
    assert rows[0, 4:].tolist() == [1.0, 0.0] and rows[1, 4:].tolist() == [0.0, 1.0]

"""Level changes by binary segmentation with a CUSUM test: steps found, noise and spikes left alone."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.tasks.series_anomaly.changepoints import deseasoned, detect, kolmogorov


def test_kolmogorov_distribution() -> None:
    assert kolmogorov(0.2) == 0.0
    assert kolmogorov(1.36) == pytest.approx(0.95, abs=0.002)  # the textbook 5 % point
    assert kolmogorov(1.63) == pytest.approx(0.99, abs=0.002)
    assert kolmogorov(3.0) == pytest.approx(1.0)


def test_steps_are_found_where_they_are() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 600)
    x[200:] += 3.0
    x[450:] -= 5.0
    found = detect(x, 0, 10, 0.99)
    assert found.points == [200, 450]
    assert found.confidence[200] > 0.99 and found.confidence[450] > 0.99
    others = np.delete(found.confidence, [200, 450])
    assert others.max() < 0.99
    assert found.levels[100] == pytest.approx(0.0, abs=0.3)
    assert found.levels[300] == pytest.approx(3.0, abs=0.3)


def test_noise_and_spikes_are_no_change() -> None:
    false = 0
    for seed in range(20):
        x = np.random.default_rng(seed).normal(0.0, 1.0, 500)
        x[[50, 51, 300]] += 12.0  # spikes, two of them side by side
        false += len(detect(x, 0, 10, 0.99).points)
    assert false <= 2  # about 1 % per stretch tested


def test_a_change_needs_room_on_both_sides() -> None:
    x = np.r_[np.zeros(5), np.full(95, 4.0)] + np.random.default_rng(1).normal(0.0, 0.5, 100)
    assert detect(x, 0, 10, 0.99).points == []
    assert detect(x, 0, 5, 0.99).points == [5]


def test_the_season_is_not_a_change() -> None:
    rng = np.random.default_rng(2)
    hours = np.arange(24 * 14)
    x = 10.0 * np.sin(2 * np.pi * hours / 24) + rng.normal(0.0, 0.5, len(hours))
    assert np.std(deseasoned(x, 24)) < 1.0
    x[200:] += 2.0
    assert detect(x, 24, 10, 0.99).points == [200]

"""Holm and Bonferroni adjustments, the thresholds' checks and the window size limits."""

from __future__ import annotations

import math

import pytest

from shopfloor.errors import InvalidInput, PayloadTooLarge
from shopfloor.monitoring.thresholds import (
    MAX_WINDOW_ROWS,
    MIN_WINDOW_ROWS,
    Thresholds,
    bonferroni,
    check_window_rows,
    holm,
)


def test_holm_steps_down_and_keeps_order() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.2, math.nan, 0.01])
    assert adjusted[0] == pytest.approx(0.2) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.02)
    assert holm([0.9, 0.8]) == [1.0, 1.0] and holm([]) == []


def test_holm_is_never_more_lenient_than_the_raw_p_nor_stricter_than_bonferroni() -> None:
    p = [0.001, 0.02, 0.03, 0.2, 0.5]
    for raw, h, b in zip(p, holm(p), bonferroni(p), strict=True):
        assert raw <= h <= b


def test_thresholds_are_checked() -> None:
    assert Thresholds().as_dict() == {"alpha": 0.01, "min_distance": 0.1, "correction": "holm"}
    with pytest.raises(InvalidInput) as bad:
        Thresholds(alpha=1.0)
    assert bad.value.errors[0]["loc"] == ["query", "alpha"]
    with pytest.raises(InvalidInput):
        Thresholds(min_distance=-0.1)


def test_window_size_limits() -> None:
    check_window_rows(MIN_WINDOW_ROWS)
    with pytest.raises(InvalidInput, match=f"at least {MIN_WINDOW_ROWS}"):
        check_window_rows(MIN_WINDOW_ROWS - 1)
    with pytest.raises(PayloadTooLarge):
        check_window_rows(MAX_WINDOW_ROWS + 1)

"""Lookout's sensor tables: off conditions, component files, resampling, ranges and segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.lookout import TIME, in_ranges, off_condition, resample, segments, within
from shopfloor.errors import InvalidInput

SENSORS = ["pump\\speed", "pump\\pressure", "motor\\speed"]


def test_off_conditions_name_one_sensor() -> None:
    off = off_condition("pump\\speed < 100", SENSORS)
    assert off is not None and (off.sensor, off.op, off.value) == ("pump\\speed", "<", 100.0)
    frame = pd.DataFrame({"pump\\speed": [50.0, 150.0, np.nan]})
    assert off.off_rows(frame).tolist() == [True, False, False]  # a missing reading is not off
    assert off_condition("pressure >= 2.5", SENSORS).sensor == "pump\\pressure"  # type: ignore[union-attr]
    assert off_condition(None, SENSORS) is None and off_condition("  ", SENSORS) is None
    cases = [("speed < 3", "more than one sensor"), ("pump\\nope < 3", "no sensor"), ("speed", "not")]
    for text, why in cases:
        with pytest.raises(InvalidInput, match=why) as caught:
            off_condition(text, SENSORS)
        assert caught.value.errors is not None
        assert caught.value.errors[0]["loc"] == ["body", "OffCondition"]


def _frame(minutes: list[float]) -> pd.DataFrame:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return pd.DataFrame(
        {TIME: [start + timedelta(minutes=m) for m in minutes], "x": np.arange(len(minutes), dtype=float)}
    )


def test_resampling_averages_bins_and_leaves_empty_ones_out() -> None:
    out = resample(_frame([0, 0.5, 1, 5]), 60)
    assert out["x"].tolist() == [0.5, 2.0, 3.0]
    assert out[TIME].dt.minute.tolist() == [0, 1, 5]
    assert resample(_frame([2, 1]), None)["x"].tolist() == [1.0, 0.0]


def test_ranges_windows_and_segments() -> None:
    frame = _frame([0, 1, 2, 3, 10, 11, 12, 13])
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert len(within(frame, start + timedelta(minutes=1), start + timedelta(minutes=11))) == 4
    inside = in_ranges(frame[TIME], [(start + timedelta(minutes=2), start + timedelta(minutes=3))])
    assert inside.tolist() == [False, False, True, True, False, False, False, False]
    assert segments(frame[TIME], 60).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]  # a pause of 7 steps
    assert segments(frame[TIME], 60, most_rows=3).tolist() == [0, 0, 0, 1, 2, 2, 2, 3]

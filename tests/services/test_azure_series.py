"""An Azure univariate request's series on its grid: granularities, intervals, missing points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shopfloor.errors import InvalidInput
from shopfloor.services.azure_series import grid_of


def _body(stamps: list[str], granularity: str, **more: Any) -> dict[str, Any]:
    series = [{"timestamp": s, "value": float(i)} for i, s in enumerate(stamps)]
    return {"series": series, "granularity": granularity, **more}


def _code(error: pytest.ExceptionInfo[InvalidInput]) -> str:
    return str(error.value.errors[0]["type"])


def test_minutes_with_a_custom_interval_and_a_gap_filled_on_a_line() -> None:
    stamps = [f"2026-01-01T{m // 60:02d}:{m % 60:02d}:00+00:00" for m in range(0, 5 * 20, 5)]
    del stamps[4:6]
    grid = grid_of(_body(stamps, "minutely", customInterval=5))
    assert grid.step == 300.0 and grid.n == 18 and len(grid.values) == 20
    assert grid.filled.tolist() == [False] * 4 + [True, True] + [False] * 14
    assert grid.values[3:7].tolist() == pytest.approx([3.0, 3 + 1 / 3, 3 + 2 / 3, 4.0])


@pytest.mark.parametrize(
    ("mode", "filled"), [("previous", [3.0, 3.0]), ("zero", [0.0, 0.0]), ("fixed", [-1.0, -1.0])]
)
def test_impute_modes(mode: str, filled: list[float]) -> None:
    stamps = [f"2026-01-{d:02d}" for d in range(1, 17)]
    del stamps[4:6]
    grid = grid_of(_body(stamps, "daily", imputeMode=mode, imputeFixedValue=-1.0))
    assert grid.values[4:6].tolist() == filled
    kept = grid_of(_body(stamps, "daily", imputeMode="notFill"))
    assert len(kept.values) == 14 and not kept.filled.any()


def test_months_follow_the_calendar() -> None:
    stamps = [f"{2020 + m // 12}-{m % 12 + 1:02d}-01T00:00:00Z" for m in range(0, 36, 3)]
    grid = grid_of(_body(stamps, "monthly", customInterval=3))
    assert len(grid.values) == 12 and not grid.filled.any()
    stamps[5] = stamps[5].replace("-01T", "-02T")
    with pytest.raises(InvalidInput) as refused:
        grid_of(_body(stamps, "monthly", customInterval=3))
    assert _code(refused) == "InvalidSeries" and "point 5" in refused.value.detail


def test_none_needs_no_timestamps() -> None:
    body = {"series": [{"timestamp": None, "value": float(v)} for v in range(12)], "granularity": "none"}
    grid = grid_of(body)
    assert grid.times.tolist() == list(np.arange(12.0)) and not grid.dated
    with pytest.raises(InvalidInput) as refused:
        grid_of({**body, "granularity": "hourly"})
    assert _code(refused) == "InvalidSeries" and "point 0 has no timestamp" in refused.value.detail


def test_a_span_too_long_to_fill() -> None:
    stamps = [f"2026-01-01T{h:02d}:00:00Z" for h in range(12)] + ["2027-06-01T00:00:00Z"]
    with pytest.raises(InvalidInput) as refused:
        grid_of(_body(stamps, "hourly"))
    assert _code(refused) == "InvalidSeries" and "8640" in refused.value.detail
    assert len(grid_of(_body(stamps, "hourly", imputeMode="notFill")).values) == 13

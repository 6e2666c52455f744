"""Series report figures on frames whose answers are known by construction, and on C-MAPSS FD001."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.parse import read_table
from shopfloor.data.profile import profile_frame
from shopfloor.data.series import SeriesSpec, check_history
from shopfloor.data.series_report import (
    annotate,
    check_settings,
    constancy,
    operating_modes,
    series_report,
    series_summary,
)
from shopfloor.errors import InvalidDataset

CMAPSS = ["unit", "cycle", "setting1", "setting2", "setting3", *(f"s{i}" for i in range(1, 22))]


def history(times_by_asset: dict[str, list[float]], seed: int = 0) -> pd.DataFrame:
    """Long table: one row per asset and time; 'temp' varies, 'const' never moves, 'sparse' every 3rd row."""
    rng = np.random.default_rng(seed)
    rows = [(asset, t) for asset, times in times_by_asset.items() for t in times]
    frame = pd.DataFrame(rows, columns=["asset", "t"])
    frame["temp"] = rng.normal(60.0, 2.0, len(frame)).round(3)
    frame["const"] = 7.25
    frame["sparse"] = np.where(np.arange(len(frame)) % 3 == 0, rng.normal(size=len(frame)), np.nan)
    return frame


def test_interval_and_a_known_gap() -> None:
    # Asset A every 2 cycles with one jump of 10; asset B every 2 cycles. The step between assets is no gap.
    frame = history({"A": [0, 2, 4, 6, 16, 18, 20], "B": [100, 102, 104, 106]})
    spec = SeriesSpec("asset", "t", ("temp", "const"))
    report = series_report(frame, spec, [])
    clock = report["t"]["series"]
    assert report["t"]["role"] == "time"
    assert (clock["interval"], clock["unit"], clock["gaps"], clock["largest_gap"]) == (2.0, "cycles", 1, 10.0)
    assert "1 gap(s)" in clock["notes"][0] and "largest is 10 cycles" in clock["notes"][0]
    temp = report["temp"]["series"]
    assert (temp["interval"], temp["gaps"], temp["dropped"], temp["notes"]) == (2.0, 1, False, [])
    asset = report["asset"]
    assert asset["role"] == "asset"
    assert asset["series"]["assets"] == 2
    assert asset["series"]["points_per_asset"] == {"min": 4, "median": 5.5, "max": 7}


def test_constant_sensor_is_dropped_with_a_reason() -> None:
    frame = history({"A": list(range(10)), "B": list(range(10))})
    report = series_report(frame, SeriesSpec("asset", "t", ("temp", "const")), [])
    const = report["const"]
    assert const["role"] == "sensor"
    assert const["series"]["dropped"] is True
    assert const["series"]["reason"] == "constant: every value is 7.25"
    assert report["temp"]["series"]["dropped"] is False and report["temp"]["series"]["reason"] is None


def test_sparse_sensor_and_missing_values_are_noted() -> None:
    frame = history({"A": list(range(30)), "B": list(range(30))})
    sparse = series_report(frame, SeriesSpec("asset", "t", ("sparse",)), [])["sparse"]["series"]
    assert sparse["interval"] == 3.0 and sparse["missing"] == 40
    assert any("sampled every 3 cycles" in note for note in sparse["notes"])
    assert any("missing in 40 of 60 rows" in note for note in sparse["notes"])


def test_timestamps_give_the_interval_in_seconds() -> None:
    start = pd.Timestamp("2024-03-01T08:00:00Z")
    stamps = [start + pd.Timedelta(seconds=10 * i) for i in range(12)]
    stamps[8:] = [s + pd.Timedelta(seconds=60) for s in stamps[8:]]  # a 70 s hole before the 9th point
    frame = history({"M1": [0] * 12, "M2": [0] * 12})
    frame["t"] = [s.isoformat() for s in stamps] * 2
    spec = SeriesSpec("asset", "t", ("temp",))
    check_history(frame, spec)
    clock = series_report(frame, spec, [])["t"]["series"]
    assert (clock["interval"], clock["unit"]) == (10.0, "seconds")
    assert (clock["gaps"], clock["largest_gap"]) == (2, 70.0)  # one per asset


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        ([5.0] * 50, "constant: every value is 5"),
        ([21.61] * 98 + [21.60] * 2, "near-constant: 98.0% of its values are 21.61"),
        ([1.0 + 1e-13 * i for i in range(50)], "near-constant: its spread"),
        ([0.0, 1.0] * 25, None),  # an on/off signal that switches is information
        ([21.61] * 50 + [21.60] * 50, None),
        (list(np.linspace(641.0, 644.0, 300).round(2)), None),
        ([2388.0] * 96 + [2388.05, 2388.1, 2388.5, 2390.0], None),  # dominant but far-reaching excursions
    ],
)
def test_constancy(values: list[float], verdict: str | None) -> None:
    got = constancy(np.array(values + [np.nan]))
    assert got == verdict if verdict is None else got is not None and got.startswith(verdict)


def three_modes(rows: int = 900, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [20.0, 0.7], [42.0, 0.84]])
    which = np.repeat([0, 1, 2], [rows // 2, rows // 3, rows - rows // 2 - rows // 3])
    points = centres[which] + rng.normal(0.0, [0.05, 0.001], (rows, 2))
    return pd.DataFrame(points, columns=["altitude", "mach"])


def test_three_clear_operating_modes() -> None:
    modes = operating_modes(three_modes())
    assert modes["k"] == 3 and modes["silhouette"] > 0.9
    assert [m["share"] for m in modes["modes"]] == pytest.approx([0.5, 1 / 3, 1 / 6], abs=1e-3)
    centres = np.array(sorted((m["centre"]["altitude"], m["centre"]["mach"]) for m in modes["modes"]))
    assert centres == pytest.approx(np.array([[0.0, 0.0], [20.0, 0.7], [42.0, 0.84]]), abs=0.02)


def test_noise_around_one_condition_is_one_mode() -> None:
    rng = np.random.default_rng(0)
    noise = pd.DataFrame({"a": rng.normal(0, 0.002, 3000), "b": rng.normal(0, 0.0003, 3000)})
    modes = operating_modes(noise)
    assert modes["k"] == 1 and modes["modes"] == [] and modes["silhouette"] < 0.7


def test_settings_carry_the_modes_and_a_constant_setting_is_left_out() -> None:
    settings = three_modes(300)
    frame = history({f"E{i}": list(range(30)) for i in range(10)})
    frame = pd.concat([frame, settings], axis=1).assign(tra=100.0)
    report = series_report(frame, SeriesSpec("asset", "t", ("temp",)), ["altitude", "mach", "tra"])
    altitude, tra = report["altitude"], report["tra"]
    assert altitude["role"] == tra["role"] == "setting"
    assert altitude["series"]["operating_modes"]["k"] == 3
    assert altitude["series"]["operating_modes"]["columns"] == ["altitude", "mach"]
    assert tra["series"]["operating_modes"] == altitude["series"]["operating_modes"]
    assert tra["series"]["dropped"] is True and altitude["series"]["dropped"] is False
    assert "3 operating modes in altitude, mach" in altitude["series"]["notes"][0]


def test_summary_is_derived_from_the_annotated_profile() -> None:
    frame = pd.concat([history({f"E{i}": list(range(30)) for i in range(10)}), three_modes(300)], axis=1)
    spec = SeriesSpec("asset", "t", ("temp", "const", "sparse"))
    profile = annotate(profile_frame(frame), series_report(frame, spec, ["altitude", "mach"]))
    roles = ["asset", "time", "sensor", "sensor", "sensor", "setting", "setting"]
    assert [c["role"] for c in profile] == roles
    summary = series_summary(profile)
    assert summary is not None
    assert summary["asset_column"] == "asset" and summary["time_column"] == "t"
    assert summary["settings_columns"] == ["altitude", "mach"]
    assert summary["assets"] == 10 and summary["points_per_asset"] == {"min": 30, "median": 30.0, "max": 30}
    assert summary["interval"] == {"value": 1.0, "unit": "cycles"}
    assert summary["sensors"] == ["temp", "sparse"]
    assert summary["dropped"] == [{"name": "const", "reason": "constant: every value is 7.25"}]
    assert summary["operating_modes"] == 3
    assert any(note.startswith("3 operating modes") for note in summary["notes"])
    assert any(note.startswith("sparse: sampled every 3 cycles") for note in summary["notes"])
    assert series_summary(profile_frame(frame)) is None


def test_settings_must_be_numbers() -> None:
    frame = pd.DataFrame({"altitude": [0.0, 1.0, None], "mode": ["1", "x", "2"], "empty": [None] * 3})
    check_settings(frame, ["altitude"])
    with pytest.raises(InvalidDataset, match="setting 'mode' has the value 'x' at row 2") as info:
        check_settings(frame, ["mode"])
    assert info.value.errors[0]["loc"] == ["file", "row", 2, "column", "mode"]
    with pytest.raises(InvalidDataset, match="setting 'empty' has no value at all"):
        check_settings(frame, ["empty"])
    with pytest.raises(InvalidDataset, match="'inf' at row 1"):
        check_settings(pd.DataFrame({"a": ["inf"]}), ["a"])


def test_fd001_report(data_dir: Path) -> None:
    path = data_dir / "cmapss" / "train_FD001.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frame = read_table(path, format="whitespace", columns=CMAPSS)
    spec = SeriesSpec("unit", "cycle", tuple(CMAPSS[5:]))
    settings = ["setting1", "setting2", "setting3"]
    check_history(frame, spec)
    summary = series_summary(annotate(profile_frame(frame), series_report(frame, spec, settings)))
    assert summary is not None
    assert summary["assets"] == 100
    assert summary["points_per_asset"] == {"min": 128, "median": 199.0, "max": 362}
    assert summary["interval"] == {"value": 1.0, "unit": "cycles"}
    dropped = {d["name"] for d in summary["dropped"]}
    assert dropped == {"s1", "s5", "s6", "s10", "s16", "s18", "s19", "setting3"}
    assert len(summary["sensors"]) == 14
    assert summary["operating_modes"] == 1
    assert summary["notes"] == []

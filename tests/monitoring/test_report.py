"""Drift reports on real data: AI4I 2020 with shifted process settings and product mix, C-MAPSS
engines late in life fed as if they were healthy, and the unchanged stream.

Profiles are built directly from the tables (no model: the statistics are what is under test);
tests/jobs/test_profiling.py goes through the families' hooks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor.monitoring.profile import Profile, build_profile
from shopfloor.monitoring.report import Window, drift_report
from shopfloor.monitoring.thresholds import Thresholds

AI4I_NUMERIC = [
    "Air temperature [K]",
    "Process temperature [K]",
    "Rotational speed [rpm]",
    "Torque [Nm]",
    "Tool wear [min]",
]
CMAPSS_COLUMNS = ["unit", "cycle", "setting1", "setting2", "setting3", *(f"s{i}" for i in range(1, 22))]
# FD001's sensors that follow the high-pressure compressor's degradation (its PROVENANCE and the
# literature); s1, s5, s6, s10, s16, s18, s19 and setting3 are (near) constant.
DEGRADING = {"s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21"}


@pytest.fixture(scope="module")
def ai4i(ai4i_path: Path) -> tuple[Profile, pd.DataFrame]:
    """A profile of 7,000 AI4I rows and the 3,000 rows it did not see."""
    if not ai4i_path.exists():
        pytest.skip(f"AI4I data not found at {ai4i_path}")
    frame = pd.read_csv(ai4i_path)
    order = np.random.default_rng(0).permutation(len(frame))
    columns = [{"name": c, "type": "numeric"} for c in AI4I_NUMERIC]
    columns.append({"name": "Type", "type": "categorical"})
    return build_profile(frame.iloc[order[:7000]], columns), frame.iloc[order[7000:]].reset_index(drop=True)


def test_unchanged_stream_raises_no_drift(ai4i: tuple[Profile, pd.DataFrame]) -> None:
    profile, rest = ai4i
    for start in (0, 500, 1000):
        report = drift_report(profile, Window(rest.iloc[start : start + 500]))
        assert not report.drifted, report.summary
        assert report.summary.startswith("No drift: 500 rows")
        assert all(f.p_adjusted >= f.p_value for f in report.findings())


def test_tool_wear_and_process_temperature_shift_detected_and_named_first(
    ai4i: tuple[Profile, pd.DataFrame],
) -> None:
    profile, rest = ai4i
    window = rest.iloc[:500].copy()
    window["Process temperature [K]"] += 2.1
    window["Tool wear [min]"] += 60
    report = drift_report(profile, Window(window))
    assert report.drifted
    first_two = [f.name for f in report.inputs[:2]]
    assert set(first_two) == {"Process temperature [K]", "Tool wear [min]"}
    assert [f.drifted for f in report.inputs] == [True, True, False, False, False, False]
    temperature = next(f for f in report.inputs if f.name == "Process temperature [K]")
    assert temperature.sentence.startswith("Process temperature [K] rose by 2.1 K on average")
    assert f"(KS {temperature.statistic:.2f})" in temperature.sentence
    assert report.summary.startswith("Drift: 2 of 6 inputs moved: ")
    assert report.together[0].drifted  # the inputs together tell the window apart too


def test_product_type_mix_named_first(ai4i: tuple[Profile, pd.DataFrame]) -> None:
    profile, rest = ai4i
    high = rest[rest["Type"] == "H"].iloc[:225]
    other = rest[rest["Type"] != "H"].iloc[:275]
    report = drift_report(profile, Window(pd.concat([high, other])))
    top = report.inputs[0]
    assert top.name == "Type" and top.drifted and top.test == "chi2"
    assert top.sentence.startswith("Type H went from 9.9 % to 45 %")
    assert not any(f.drifted for f in report.inputs[1:])
    assert 0.3 < top.details["js"] < 0.5 and top.details["psi"] > 0.25


def test_a_larger_min_distance_keeps_a_small_shift_quiet(ai4i: tuple[Profile, pd.DataFrame]) -> None:
    profile, rest = ai4i
    window = rest.iloc[:500].assign(**{"Torque [Nm]": rest["Torque [Nm]"].iloc[:500] + 3})
    assert drift_report(profile, Window(window)).inputs[0].name == "Torque [Nm]"
    assert drift_report(profile, Window(window)).drifted
    quiet = drift_report(profile, Window(window), Thresholds(min_distance=0.5))
    assert not quiet.drifted and quiet.inputs[0].name == "Torque [Nm]"


@pytest.fixture(scope="module")
def fd001(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "cmapss" / "train_FD001.txt"
    if not path.exists():
        pytest.skip(f"C-MAPSS data not found at {path}")
    frame = pd.read_csv(path, sep=r"\s+", header=None, names=CMAPSS_COLUMNS)
    return frame.assign(life=frame.groupby("unit")["cycle"].transform("max"))


def test_late_life_engines_fed_as_healthy_are_detected_degrading_sensors_first(fd001: pd.DataFrame) -> None:
    """The profile: a random 70 % of the healthy cycles (the first 60 % of each life) of all engines.
    The other healthy cycles raise no drift; the last 15 % of the lives do, by the degrading sensors."""
    healthy = fd001[fd001["cycle"] <= 0.6 * fd001["life"]]
    profiled = healthy.sample(frac=0.7, random_state=0)
    sensors = [c for c in CMAPSS_COLUMNS if c not in ("unit", "cycle")]
    profile = build_profile(profiled, [{"name": s, "type": "numeric"} for s in sensors])

    unseen = healthy.drop(index=profiled.index).sample(500, random_state=0)
    assert not drift_report(profile, Window(unseen)).drifted

    late = fd001[fd001["cycle"] > 0.85 * fd001["life"]].sample(1000, random_state=0)
    report = drift_report(profile, Window(late))
    assert report.drifted
    moved = [f.name for f in report.inputs if f.drifted]
    assert len(moved) >= 8 and set(moved) <= DEGRADING, moved
    assert [f.name for f in report.inputs[: len(moved)]] == moved  # drifted ones first
    assert not any(f.drifted for f in report.inputs if f.name in ("setting1", "setting2", "s1", "s5"))

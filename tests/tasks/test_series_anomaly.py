"""series_anomaly: messy time repaired (not refused), the band and sensitivity, stream = batch."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import InvalidDataset, InvalidInput
from shopfloor.tasks import catalog
from shopfloor.tasks.base import ONE_STREAM
from shopfloor.tasks.series_anomaly import detector
from shopfloor.tasks.series_anomaly.detector import alarm_readings
from shopfloor.tasks.series_anomaly.timeline import repair


def _stream(n: int = 400, freq: str = "15min", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-05-01", periods=n, freq=freq)
    value = 20 + 2 * np.sin(2 * np.pi * np.arange(n) / 96) + rng.normal(0, 0.2, n)
    return pd.DataFrame({"timestamp": times.astype(str), "value": value})


def _fit(frame: pd.DataFrame, **options: object):  # noqa: ANN202
    return catalog.make_estimator("series_anomaly", **options).fit(frame)


def test_duplicates_are_merged_by_mean_or_last() -> None:
    frame = pd.DataFrame({"t": [0, 1, 1, 2, 3], "v": [1.0, 2.0, 4.0, 5.0, 6.0]})
    mean = repair(frame, "t", ["v"], duplicates="mean")
    assert mean.values[:, 0].tolist() == [1.0, 3.0, 5.0, 6.0]
    assert mean.repairs["duplicate_rows_merged"] == 1 and mean.repairs["duplicated_timestamps"] == 1
    last = repair(frame, "t", ["v"], duplicates="last")
    assert last.values[:, 0].tolist() == [1.0, 4.0, 5.0, 6.0]
    assert last.point_of_row.tolist() == [0, 1, 1, 2, 3]


def test_out_of_order_rows_are_sorted_and_counted() -> None:
    frame = pd.DataFrame(
        {
            "t": ["2024-01-01 00:10", "2024-01-01 00:00", "2024-01-01 00:05", "2024-01-01 00:15"],
            "v": [3.0, 1.0, 2.0, 4.0],
        }
    )
    tl = repair(frame, "t", ["v"])
    assert tl.values[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert tl.repairs["out_of_order_rows"] == 2 and tl.repairs["sorted"]
    assert tl.row_of_point.tolist() == [1, 2, 0, 3] and tl.step == 300.0


def test_gaps_are_filled_on_a_straight_line_or_split() -> None:
    frame = pd.DataFrame({"t": [0, 1, 2, 6, 7, 8], "v": [0.0, 1.0, 2.0, 6.0, 7.0, 8.0]})
    filled = repair(frame, "t", ["v"], gaps="fill")
    assert filled.times.tolist() == list(range(9)) and filled.values[:, 0].tolist() == list(range(9))
    assert filled.filled.tolist() == [False] * 3 + [True] * 3 + [False] * 3
    assert filled.repairs["gaps"] == 1 and filled.repairs["gap_points_filled"] == 3
    assert filled.point_of_row.tolist() == [0, 1, 2, 6, 7, 8]
    split = repair(frame, "t", ["v"], gaps="split")
    assert split.segment.tolist() == [0, 0, 0, 1, 1, 1] and split.repairs["segments"] == 2
    assert not split.filled.any()


def test_a_repeated_daylight_saving_hour_is_merged_and_reported() -> None:
    # local time on the night clocks go back: 01:00-01:45 comes twice
    first = pd.date_range("2024-10-27 00:00", "2024-10-27 01:45", freq="15min")
    again = pd.date_range("2024-10-27 01:00", "2024-10-27 04:00", freq="15min")
    times = [str(t) for t in first] + [str(t) for t in again]
    frame = pd.DataFrame({"t": times, "v": np.arange(len(times), dtype=float)})
    tl = repair(frame, "t", ["v"], duplicates="last")
    assert tl.repairs["clock_set_back"] == 1
    assert tl.repairs["duplicated_timestamps"] == 4 and tl.repairs["duplicate_rows_merged"] == 4
    assert np.all(np.diff(tl.times) == 900) and tl.repairs["gaps"] == 0


def test_what_cannot_be_repaired_is_refused_naming_the_column() -> None:
    with pytest.raises(InvalidDataset) as caught:
        _fit(pd.DataFrame({"time": ["soon"] * 30, "v": np.arange(30.0)}))
    assert caught.value.errors[0]["loc"][-1] == "time"
    with pytest.raises(InvalidDataset) as caught:
        _fit(pd.DataFrame({"time": np.arange(30), "v": ["x"] * 30}), value_columns=["v"])
    assert "'v'" in caught.value.detail
    with pytest.raises(InvalidDataset, match="at least 20"):
        _fit(pd.DataFrame({"time": np.arange(5), "v": np.arange(5.0)}))


def test_a_spike_and_a_level_shift_are_flagged_with_band_and_events() -> None:
    frame = _stream(900)
    frame.loc[600, "value"] += 6
    frame.loc[750:, "value"] += 5
    est = _fit(frame.head(500), alarm_memory=0)
    assert est.report_["seasonality"]["kind"] == "daily"
    (result,) = est.predict(frame.to_dict("records"))
    points = result["points"]
    assert points[600]["is_anomaly"] and points[750]["is_anomaly"]
    assert points[600]["score"] > 0.5 and 0 <= min(p["score"] for p in points)
    assert points[600]["lower"] < points[600]["expected"] < points[600]["upper"] < points[600]["value"]
    assert any(e["start"] == frame["timestamp"][600] for e in result["events"])
    assert sum(p["is_anomaly"] for p in points[:500]) <= 0.05 * 500


def test_alarm_memory_flags_a_repeated_fault_once_and_a_larger_one_again() -> None:
    frame = _stream(900)
    frame.loc[[600, 650], "value"] += 6
    frame.loc[700, "value"] += 30
    remembered, plain = _fit(frame.head(500)), _fit(frame.head(500), alarm_memory=0)
    (a,), (b,) = remembered.predict(frame.to_dict("records")), plain.predict(frame.to_dict("records"))
    assert [a["points"][i]["is_anomaly"] for i in (600, 650, 700)] == [True, False, True]
    assert [b["points"][i]["is_anomaly"] for i in (600, 650, 700)] == [True, True, True]
    assert (
        a["points"][650]["upper"] - a["points"][650]["lower"]
        > b["points"][650]["upper"] - b["points"][650]["lower"]
    )


def test_one_lone_outlier_does_not_hide_a_later_smaller_fault() -> None:
    frame = _stream(1400)
    frame.loc[600, "value"] += 30  # once
    frame.loc[1000, "value"] += 6  # smaller, 400 readings later
    frame.loc[[1100, 1200, 1300], "value"] += 6  # the same fault again, and again
    (result,) = _fit(frame.head(500)).predict(frame.to_dict("records"))
    flags = [result["points"][i]["is_anomaly"] for i in (600, 1000, 1100, 1200, 1300)]
    # the lone outlier widens the band for a while only; the smaller fault, once seen, is what
    # this stream does (the band follows the second largest widening of the alarm memory)
    assert flags == [True, True, False, False, False]


def test_a_fault_that_recurs_at_the_same_time_of_day_is_flagged_once_and_a_larger_one_again() -> None:
    frame = _stream(1000)  # 96 readings a day
    frame.loc[[600, 696], "value"] += 6  # the same time on two days
    frame.loc[792, "value"] += 12  # the same time, larger
    (result,) = _fit(frame.head(500)).predict(frame.to_dict("records"))
    assert [result["points"][i]["is_anomaly"] for i in (600, 696, 792)] == [True, False, True]
    # the same fault at another time of day, further apart than a day: flagged again
    other = _stream(1000)
    other.loc[[600, 740], "value"] += 6
    (result,) = _fit(other.head(500)).predict(other.to_dict("records"))
    assert [result["points"][i]["is_anomaly"] for i in (600, 740)] == [True, True]
    # without the alarm memory every reading out of the band is flagged, whatever the time of day
    (plain,) = _fit(frame.head(500), alarm_memory=0).predict(frame.to_dict("records"))
    assert all(plain["points"][i]["is_anomaly"] for i in (600, 696, 792))


def test_a_level_shift_smaller_than_the_spikes_before_it_is_flagged() -> None:
    frame = _stream(1400)
    frame.loc[[600, 650], "value"] += 60  # two huge spikes: the band stays widened for a long while
    frame.loc[900:, "value"] += 3  # then a level shift, far smaller than the spikes
    (result,) = _fit(frame.head(500)).predict(frame.to_dict("records"))
    points = result["points"]
    assert points[600]["is_anomaly"] and not any(p["is_anomaly"] for p in points[660:900])
    assert points[900]["value"] < points[900]["upper"]  # inside the widened band
    assert any(p["is_anomaly"] for p in points[900:915])  # the shift is flagged once half a span is past
    assert sum(p["is_anomaly"] for p in points[915:]) < 10  # once, not on every reading after


def test_a_fault_repeating_faster_than_ever_is_flagged_though_the_band_is_widened() -> None:
    flags = {}
    for second in (1103, 1140):
        frame = _stream(1400)
        frame.loc[list(range(520, 1000, 37)), "value"] += 6  # a pulse every 37 readings
        frame.loc[[1100, second], "value"] += [7.2, 8.0]  # two larger ones, 3 or 40 readings apart
        (result,) = _fit(frame.head(500)).predict(frame.to_dict("records"))
        flags[second] = [i for i, p in enumerate(result["points"]) if p["is_anomaly"]]
    assert flags[1140] == [520]  # the pulse once; the larger ones at about its pace are what it does
    assert flags[1103] == [520, 1103]  # 3 readings after the previous one: sooner than it ever did


def _start_up(history: int = 1000, stream: int = 10_000) -> pd.DataFrame:
    """Five-minute readings: a history that is mostly a start-up (a decaying transient 40 noise sds
    high), then a calm stream (the noise only) with a fault of 10 noise sds at 200, 1200, 8000 and
    9000 readings after the history (those the stream reaches)."""
    rng = np.random.default_rng(0)
    value = 100 + rng.normal(0, 1, history + stream)
    value[:history] += 40 * np.exp(-np.arange(history) / 60)
    value[[history + i for i in (200, 1200, 8000, 9000) if i < stream]] += 10
    times = pd.date_range("2024-05-01", periods=history + stream, freq="5min")
    return pd.DataFrame({"timestamp": times.astype(str), "value": value})


def test_a_spread_learnt_from_a_start_up_comes_down_slowly_where_the_stream_stays_calm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = _start_up()
    history, stream = frame.head(1000), frame.iloc[1000:].to_dict("records")
    (result,) = _fit(history, candidates=["seasonal_baseline"]).predict(stream)
    points = result["points"]
    width = [p["upper"] - p["lower"] for p in points]
    # learnt from the start-up, the band is about 60 noise sds wide: the early faults are inside it
    # (the one at 1200 is flagged by the activity, a calm stream's sudden change, not by the band)
    assert all(points[i]["lower"] < points[i]["value"] < points[i]["upper"] for i in (200, 1200))
    assert width[1500] == pytest.approx(width[0]) and width[0] > 55
    # after thousands of calm readings the band has come down (at most five times narrower) and
    # the same faults are out of it, each flagged, and nothing else is
    assert width[0] / 5.01 < width[7999] < width[0] / 4
    assert all(points[i]["value"] > points[i]["upper"] and points[i]["is_anomaly"] for i in (8000, 9000))
    assert {i for i, p in enumerate(points) if p["is_anomaly"]} <= {200, 1200, 8000, 9000}
    # the spread comes down slowly: no narrower than half after the first 2000 readings
    assert min(width[:2000]) > width[0] / 2
    # as it was before the calm: the band stays as learnt and the last fault is missed
    monkeypatch.setattr(detector, "CALM_HALF", 0.0)
    est = _fit(history, candidates=["seasonal_baseline"])
    assert est.model_.calm == []
    (fixed,) = est.predict(stream)
    assert not fixed["points"][9000]["is_anomaly"]
    assert fixed["points"][7999]["upper"] - fixed["points"][7999]["lower"] == pytest.approx(width[0])


def test_the_calm_never_widens_the_spread_past_the_history_s() -> None:
    frame = _stream(3000, seed=3)
    est = _fit(frame.head(500), alarm_memory=0, candidates=["seasonal_baseline"])
    (learnt,) = est.model_.scale0
    louder = frame.iloc[500:].assign(value=lambda f: 20 + 3 * (f["value"] - 20))  # three times wilder
    scored = est.predict_frame(louder)
    assert ((scored["upper"] - scored["lower"]) / (2 * est.model_.k) <= learnt * (1 + 1e-12)).all()
    (top,), half = est.model_.calm, est.model_.calm_half
    assert detector.calmed(top, 1e9, top, half) == top  # a wilder reading: the history's, no more
    low = detector.CALM_MIN * top
    assert detector.calmed(low, 0.0, top, half) == low  # a calmer one: never below its least
    calm = top
    for _ in range(int(half)):  # every reading far below it: it halves, over no fewer readings
        calm = detector.calmed(calm, 0.0, top, half)
    assert calm == pytest.approx(top / 2)


def test_the_calm_halves_over_2000_readings_or_a_week_if_longer() -> None:
    assert detector.calm_readings(300.0, True) == pytest.approx(2016)  # five-minute readings
    assert detector.calm_readings(60.0, True) == pytest.approx(10_080)  # one a minute: a week
    assert detector.calm_readings(3600.0, True) == 2000  # hourly: 2000 readings, 12 weeks
    assert detector.calm_readings(1.0, False) == 2000  # a time that is not a date: readings only
    est = _fit(_stream(600, freq="1min"))
    assert est.model_.calm_half == pytest.approx(10_080) and est.report_["calm_halving_readings"] == 10_080


def test_stream_matches_batch_while_the_calm_narrows_the_band() -> None:
    frame = _start_up(history=600, stream=6000)
    est = _fit(frame.head(600), candidates=["seasonal_baseline"])
    records = frame.iloc[600:].to_dict("records")
    (batch,) = est.predict(records)
    states: dict = {}
    streamed = []
    for start in range(0, len(records), 500):
        (answer,), states = est.score_stream(records[start : start + 500], states)
        states = json.loads(json.dumps(states))  # as the registry keeps it
        streamed += answer["points"]
    (calm,) = states[ONE_STREAM]["calm"]
    assert calm < detector.CALM_FROM * est.model_.calm[0]  # narrowed by the end
    assert streamed == batch["points"]


def test_higher_sensitivity_flags_more_and_narrows_the_band() -> None:
    frame = _stream(600, seed=2)
    low, high = _fit(frame, sensitivity=10), _fit(frame, sensitivity=99, max_anomaly_ratio=0.5)
    a, b = low.predict_frame(frame), high.predict_frame(frame)
    assert b["is_anomaly"].sum() > a["is_anomaly"].sum()
    assert (b["upper"] - b["lower"]).mean() < (a["upper"] - a["lower"]).mean()


def test_the_alarm_memory_spans_at_most_twenty_days_of_date_time_readings() -> None:
    assert alarm_readings(5600, 300.0, True) == 5600  # 19.4 days of five-minute readings
    assert alarm_readings(5600, 3600.0, True) == 480  # hourly: 20 days, not 8 months
    assert alarm_readings(5600, 3600.0, False) == 5600  # a time that is not a date: readings only
    assert alarm_readings(0, 3600.0, True) == 0  # no widening stays no widening
    hourly = _stream(600, freq="1h")
    est = _fit(hourly)
    assert est.model_.heat_decay == pytest.approx(0.5 ** (2 / 480))
    assert est.report_["alarm_memory_readings"] == 480


def test_stream_one_point_at_a_time_matches_batch_with_gaps_and_save_load() -> None:
    frame = _stream(500).drop(index=range(420, 425)).reset_index(drop=True)  # a gap, filled
    frame.loc[450, "value"] += 5
    est = _fit(frame.head(300), candidates=["online_fast"])
    est = type(est).load(est.save())
    (batch,) = est.predict(frame.to_dict("records"))
    states: dict = {}
    streamed = []
    for record in frame.to_dict("records"):
        (answer,), states = est.score_stream([record], states)
        states = json.loads(json.dumps(states))  # as the registry keeps it
        streamed += answer["points"]
    assert list(states) == [ONE_STREAM]
    assert isinstance(states[ONE_STREAM]["season"][0], str)  # the adapting daily profile, packed
    assert isinstance(states[ONE_STREAM]["day"], str)  # the time-of-day memory, packed
    assert isinstance(states[ONE_STREAM]["persist"][0], str)  # the persistence's readings, packed
    assert len(json.dumps(states)) < 4000
    assert streamed == batch["points"]
    scored = est.predict_frame(frame)
    assert scored["anomaly_score"].tolist() == pytest.approx([p["score"] for p in batch["points"]])
    # a point not after the last is skipped with a warning, not refused
    (late,), _ = est.score_stream([frame.to_dict("records")[3]], states)
    assert late["points"] == [] and "not after" in late["warnings"][0]


def test_label_column_chooses_by_the_labels() -> None:
    frame = _stream(500)
    frame["known"] = 0
    frame.loc[[320, 400], "known"] = 1
    frame.loc[[320, 400], "value"] += 4
    est = _fit(frame, label_column="known")
    assert all("label_f1" in c for c in est.report_["candidates"])
    assert "known" not in [c["name"] for c in est.input_schema_]


def test_a_stream_state_that_does_not_fit_the_model_is_refused_and_left_as_it_was() -> None:
    frame = _stream(400)
    est = _fit(frame.head(300))
    _, states = est.score_stream(frame.to_dict("records")[300:310], {})
    good = json.loads(json.dumps(states))
    for key, bad in (
        ("day", good[ONE_STREAM]["day"][:-8]),  # a memory of another length
        ("day", "not base64!"),
        ("activity", [0.1, 0.2]),
        ("activity", [0.1, 0.2, float("nan"), 3, 1.0]),
        ("persist", ["AAAAAA" * 30]),  # more readings than the span
        ("persist", good[ONE_STREAM]["persist"] * 2),  # two columns for one
        ("persist", ["AACAfw=="]),  # not finite
        ("persist_widening", "wide"),
        ("pace", [3, 50]),
        ("pace", [3, 50.5, 10]),  # not whole numbers
        ("pace", [3, -1, 10]),
        ("calm", [1.0, 2.0]),  # two columns for one
        ("calm", [float("inf")]),
        ("calm", [-1.0]),
    ):
        broken = {ONE_STREAM: {**good[ONE_STREAM], key: bad}}
        before = json.dumps(broken)
        with pytest.raises(InvalidInput, match="reset the stream"):
            est.score_stream(frame.to_dict("records")[310:311], broken)
        assert json.dumps(broken) == before

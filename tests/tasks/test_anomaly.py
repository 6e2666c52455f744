"""AnomalyEstimator and event handling on histories built here, with faults injected by hand."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import InvalidDataset, InvalidInput, NotFitted
from shopfloor.tasks.anomaly.estimator import ESTIMATOR_FILE, AnomalyEstimator
from shopfloor.tasks.anomaly.events import EventTracker, evaluate_events

SENSORS = ["a", "b", "c", "d", "e"]


def _asset(name: str, n: int, rng: np.random.Generator, level: float | None = None) -> pd.DataFrame:
    """Sensors a, b, c follow one slow shared factor (tightly correlated); d and e are independent;
    ``flat`` never changes. ``level`` pins the shared factor near a value (for a fault test)."""
    factor = np.zeros(n)
    for t in range(1, n):
        factor[t] = 0.97 * factor[t - 1] + 0.25 * rng.normal()
    if level is not None:
        factor = level + 0.1 * factor
    return pd.DataFrame(
        {
            "asset": name,
            "time": np.arange(1, n + 1),
            "a": 10 + factor + 0.1 * rng.normal(size=n),
            "b": 5 + 2 * factor + 0.2 * rng.normal(size=n),
            "c": -3 - factor + 0.1 * rng.normal(size=n),
            "d": rng.normal(size=n),
            "e": 50 + 3 * rng.normal(size=n),
            "flat": 7.0,
        }
    )


def _normal(assets: int, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat([_asset(f"m{i}", n, rng) for i in range(assets)], ignore_index=True)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return _normal(12, 200, seed=0)


@pytest.fixture(scope="module")
def est(train: pd.DataFrame) -> AnomalyEstimator:
    return AnomalyEstimator(seed=0, time_budget_s=60).fit(train, "")


def _correlation_fault(train: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A new asset whose sensor b drops by one of its own standard deviations from point 120 on:
    b stays inside its normal range but no longer agrees with a and c."""
    rng = np.random.default_rng(7)
    frame = _asset("x", 200, rng, level=1.0)
    onset = 120
    frame.loc[onset:, "b"] -= train["b"].std()
    return frame, onset


def _top(contributions: dict[str, float]) -> str:
    return max(contributions, key=contributions.__getitem__)


def test_report_schema_and_dropped_sensor(est: AnomalyEstimator) -> None:
    r = est.report_
    json.dumps(r)
    assert r["task"] == "anomaly" and r["chosen"] in {c["name"] for c in r["candidates"]}
    assert {c["name"] for c in r["candidates"]} == {"mahalanobis", "pca", "regression"}
    assert sum(c["chosen"] for c in r["candidates"]) == 1
    for c in r["candidates"]:
        assert 0 <= c["detection_rate"] <= 1 and 0 <= c["false_alarm_rate"] <= 0.05 and c["faults"] > 100
    m = r["metrics"]
    assert m["threshold"] == est.threshold_ > 0 and m["target_false_alarm_rate"] == 0.01
    assert 0 < m["false_alarm_rate"] < 0.03 and m["fault_detection_rate"] > 0.5
    assert r["series"] == {
        "asset": "asset",
        "time": "time",
        "sensors": SENSORS,
        "window": 10,
        "min_points": 1,
    }
    assert [w["code"] for w in r["warnings"]] == ["constant-sensor"] and "'flat'" in r["warnings"][0][
        "message"
    ]
    assert r["evaluation"]["folds"] == 5
    assert est.input_schema_[:2] == [
        {"name": "asset", "type": "categorical", "role": "asset"},
        {"name": "time", "type": "numeric", "role": "time"},
    ]
    assert [c["name"] for c in est.input_schema_[2:]] == SENSORS


def test_correlation_break_inside_range_is_found_and_attributed(
    train: pd.DataFrame, est: AnomalyEstimator
) -> None:
    frame, onset = _correlation_fault(train)
    faulty = frame["b"].iloc[onset:]
    assert faulty.between(train["b"].min(), train["b"].max()).all()  # each sensor stays in its range
    (out,) = est.predict(frame.to_dict("records"))
    assert out["asset"] == "x" and len(out["points"]) == 200
    before = [p for p in out["points"][:onset] if p["flagged"]]
    assert len(before) <= 4
    events = [e for e in out["events"] if e["start"] >= onset]
    assert events and events[0]["start"] < onset + 15
    assert _top(events[0]["contributions"]) == "b"
    assert abs(sum(events[0]["contributions"].values()) - 100) < 1e-9
    flagged = [p for p in out["points"][onset:] if p["flagged"]]
    assert sum(_top(p["contributions"]) == "b" for p in flagged) >= 0.9 * len(flagged)
    for p in flagged:
        assert abs(sum(p["contributions"].values()) - 100) < 1e-9
        assert p["severity"]["value"] == pytest.approx(p["score"] / out["threshold"])
        assert p["severity"]["label"] in {"low", "medium", "high"}
    assert all(
        p["contributions"] == {} and p["severity"]["label"] == "normal"
        for p in out["points"]
        if not p["flagged"]
    )
    (latest,) = est.explain(frame.to_dict("records"))
    assert latest["time"] == 200 and latest["flagged"] and _top(latest["contributions"]) == "b"
    assert latest["score"] == out["points"][-1]["score"]


def test_drift_out_of_range_in_independent_sensor(est: AnomalyEstimator) -> None:
    rng = np.random.default_rng(3)
    frame = _asset("y", 160, rng)
    frame.loc[80:, "e"] += np.linspace(0, 30, 80)  # up to 10 standard deviations
    (out,) = est.predict(frame.to_dict("records"))
    late = [e for e in out["events"] if e["start"] >= 80]
    assert late and _top(late[0]["contributions"]) == "e"
    assert late[-1]["open"] and late[-1]["end"] == 160 and late[-1]["severity"]["label"] == "high"
    assert late[-1]["peak_score"] == max(p["score"] for p in out["points"] if p["time"] >= late[-1]["start"])


def test_false_alarms_on_new_normal_assets_match_the_target(est: AnomalyEstimator) -> None:
    fresh = _normal(20, 200, seed=11)
    flags = est.predict_frame(fresh)["anomaly_flag"]
    assert flags.mean() < 0.03
    first = fresh.groupby("asset").cumcount() < est.window  # calibrated windows at each start
    assert flags[first].mean() < 0.05


def _chunks(records: list[dict[str, Any]], sizes: list[int]) -> list[list[dict[str, Any]]]:
    out, at = [], 0
    for size in sizes:
        out.append(records[at : at + size])
        at += size
    return [c for c in out if c]


def test_streaming_in_chunks_equals_scoring_whole(train: pd.DataFrame, est: AnomalyEstimator) -> None:
    one, _ = _correlation_fault(train)
    two = _asset("z", 150, np.random.default_rng(5))
    two.loc[60:90, "d"] += 6.0
    two.loc[[100, 101], "c"] = np.nan  # missing readings are carried through the window too
    whole = {r["asset"]: r for r in est.predict(pd.concat([one, two]).to_dict("records"))}
    interleaved = pd.concat([one, two]).sort_values(["time", "asset"]).to_dict("records")
    states: dict[str, dict[str, Any]] = {}
    points: dict[str, list[dict[str, Any]]] = {"x": [], "z": []}
    events: dict[str, dict[Any, dict[str, Any]]] = {"x": {}, "z": {}}
    for chunk in _chunks(interleaved, [1, 1, 5, 17, 2, 64, 3, 31, 100, 1, 1, 40, 200]):
        results, new = est.score_stream(chunk, states)
        states.update(json.loads(json.dumps(new)))  # states travel as JSON
        for r in results:
            points[r["asset"]] += r["points"]
            events[r["asset"]].update({e["start"]: e for e in r["events"]})
        assert all(len(s["buffer"]) <= est.window - 1 for s in states.values())
    for asset in ("x", "z"):
        assert points[asset] == whole[asset]["points"]
        assert list(events[asset].values()) == whole[asset]["events"]
    assert whole["x"]["events"] and whole["z"]["events"]


def test_stream_refuses_points_not_after_the_last_and_keeps_state(est: AnomalyEstimator) -> None:
    records = _asset("p", 30, np.random.default_rng(2)).to_dict("records")
    _, states = est.score_stream(records[:20], {})
    before = json.dumps(states)
    other = {**records[0], "asset": "q"}
    for bad in (records[19:22], records[10:11]):
        with pytest.raises(InvalidInput) as caught:
            est.score_stream([other, *bad], states)
        assert "'p'" in caught.value.detail and caught.value.status == 422
        assert caught.value.errors[0]["loc"] == ["body", "records", 1, "time"]
    assert json.dumps(states) == before
    results, again = est.score_stream(records[20:], states)
    assert [p["time"] for p in results[0]["points"]] == list(range(21, 31)) and again["p"]["last_time"] == 30
    with pytest.raises(InvalidInput):
        est.score_stream(records[20:], {"p": {"version": 1, "buffer": [[1.0]], "last_time": 3, "run": None}})


def test_event_merging() -> None:
    flags = np.array([0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1], dtype=bool)
    scores = np.where(flags, np.arange(1, 14, dtype=float), 0.5)
    scores[5] = 20.0
    shares = np.tile([75.0, 25.0], (13, 1))
    shares[9:] = [10.0, 90.0]
    times = list(range(100, 113))
    whole = EventTracker(["u", "v"], 3, 4.0).push(times, scores, flags, shares)
    assert [(e["start"], e["end"], e["points"], e["open"]) for e in whole] == [
        (104, 106, 3, False),
        (109, 112, 4, True),
    ]
    assert whole[0]["peak"] == 105 and whole[0]["peak_score"] == 20.0
    assert whole[0]["severity"] == {"value": 5.0, "label": "high"}
    assert whole[0]["contributions"] == pytest.approx({"u": 75.0, "v": 25.0})
    assert whole[1]["contributions"] == pytest.approx({"u": 10.0, "v": 90.0})
    tracker, seen = EventTracker(["u", "v"], 3, 4.0), {}
    for a, b in ((0, 5), (5, 6), (6, 11), (11, 13)):
        for e in tracker.push(times[a:b], scores[a:b], flags[a:b], shares[a:b]):
            seen[e["start"]] = e
        tracker = EventTracker(["u", "v"], 3, 4.0, json.loads(json.dumps(tracker.run)))
    assert list(seen.values()) == whole


def test_evaluate_events_figures() -> None:
    rows = []
    # asset A: labelled 5..9 (detected by an event from 7), labelled 20..22 (missed), a false event at 15..16
    for t in range(1, 26):
        rows.append(
            {
                "asset": "A",
                "time": t,
                "label": int(5 <= t <= 9 or 20 <= t <= 22),
                "event": 1 if 7 <= t <= 11 else (2 if t in (15, 16) else None),
            }
        )
    # asset B: labelled 3..6, an event from 1 to 4 that started before it (detected at its first row)
    for t in range(1, 11):
        rows.append({"asset": "B", "time": 10 * t, "label": int(3 <= t <= 6), "event": 1 if t <= 4 else None})
    frame = pd.DataFrame(rows)
    frame["event"] = frame["event"].astype("Int64")
    out = evaluate_events(frame, "label")
    assert (
        out["labelled_events"],
        out["detected_events"],
        out["raised_events"],
        out["true_raised_events"],
    ) == (3, 2, 3, 2)
    assert out["precision"] == pytest.approx(2 / 3) and out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 / 3)
    assert out["mean_time_to_detection"] == pytest.approx(1.0) and out["median_time_to_detection"] == 1.0
    with pytest.raises(InvalidInput):
        evaluate_events(frame.assign(label=2), "label")
    with pytest.raises(InvalidInput):
        evaluate_events(frame, "nope")


def test_predict_frame_matches_predict(train: pd.DataFrame, est: AnomalyEstimator) -> None:
    one, _ = _correlation_fault(train)
    two = _asset("w", 90, np.random.default_rng(9))
    frame = pd.concat([one, two]).sort_values(["time", "asset"]).reset_index(drop=True)
    scored = est.predict_frame(frame)
    assert len(scored) == len(frame) and (scored.index == frame.index).all()
    assert {
        "anomaly_score",
        "anomaly_flag",
        "severity",
        "event",
        "top_sensor",
        *(f"contribution_{s}" for s in SENSORS),
    } <= set(scored.columns)
    results = {r["asset"]: r for r in est.predict(frame.to_dict("records"))}
    for asset, rows in scored.groupby(frame["asset"]):
        points = results[asset]["points"]
        assert rows["anomaly_score"].tolist() == [p["score"] for p in points]
        assert rows["anomaly_flag"].tolist() == [p["flagged"] for p in points]
        numbered = rows["event"].dropna()
        times = frame.loc[numbered.index, "time"]
        spans = [
            (int(times[numbered == k].min()), int(times[numbered == k].max())) for k in numbered.unique()
        ]
        assert spans == [(e["start"], e["end"]) for e in results[asset]["events"]]
    flagged = scored[scored["anomaly_flag"]]
    assert len(flagged) and np.allclose(flagged.filter(like="contribution_").sum(axis=1), 100)
    assert (flagged["top_sensor"] != "").all() and (
        scored.loc[~scored["anomaly_flag"], "top_sensor"] == ""
    ).all()


def test_save_load_round_trip(train: pd.DataFrame, est: AnomalyEstimator) -> None:
    files = est.save()
    assert list(files) == [ESTIMATOR_FILE] and isinstance(files[ESTIMATOR_FILE], bytes)
    again = AnomalyEstimator.load(files)
    records = _correlation_fault(train)[0].to_dict("records")
    assert again.predict(records) == est.predict(records)
    assert again.explain(records) == est.explain(records)
    assert again.score_stream(records[:50], {}) == est.score_stream(records[:50], {})
    assert again.report_ == est.report_ and again.input_schema_ == est.input_schema_


def test_not_fitted() -> None:
    fresh = AnomalyEstimator()
    for call in (
        lambda: fresh.predict([{}]),
        lambda: fresh.explain([{}]),
        fresh.save,
        lambda: fresh.score_stream([{}], {}),
        lambda: fresh.predict_frame(pd.DataFrame()),
    ):
        with pytest.raises(NotFitted):
            call()


def test_bad_input(est: AnomalyEstimator) -> None:
    records = _asset("k", 6, np.random.default_rng(1)).to_dict("records")
    unsorted = [records[0], records[2], records[1]]
    with pytest.raises(InvalidInput) as caught:
        est.predict(unsorted)
    assert caught.value.status == 422 and caught.value.errors[0]["loc"] == ["body", "records", 2, "time"]
    with pytest.raises(InvalidInput, match="repeats"):
        est.predict([records[0], records[1], {**records[1], "a": 3.0}])
    with pytest.raises(InvalidInput, match="'b'"):
        est.predict([{k: v for k, v in r.items() if k != "b"} for r in records])
    assert est.predict([]) == [] and est.explain([]) == [] and est.score_stream([], {}) == ([], {})
    with pytest.raises(InvalidInput):
        est.explain(records, method="lime")


def test_bad_training_data_and_options() -> None:
    frame = _normal(3, 40, seed=4)
    with pytest.raises(InvalidDataset, match="repeats"):
        AnomalyEstimator().fit(pd.concat([frame.iloc[:40], frame.iloc[39:]]), "")
    with pytest.raises(InvalidDataset, match="asset"):
        AnomalyEstimator().fit(frame[frame["asset"] == "m0"], "")
    for options in (
        {"window": 0},
        {"min_event_points": 1.5},
        {"false_alarm_rate": 0.7},
        {"candidates": ["forest"]},
        {"candidates": []},
        {"metric": "f1"},
    ):
        with pytest.raises(InvalidInput) as caught:
            AnomalyEstimator(**options).fit(frame, "")
        assert caught.value.errors[0]["loc"] == ["body", "options", next(iter(options))]


def test_timestamps_and_one_candidate() -> None:
    frame = _normal(4, 60, seed=6)
    frame["time"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(frame["time"], unit="min")
    est = AnomalyEstimator(candidates=["pca"], window=4, min_event_points=2).fit(frame, "")
    assert est.report_["chosen"] == "pca" and est.input_schema_[1]["type"] == "datetime"
    assert len(est.factors_) == 4 and est.factors_[-1] == 1.0
    records = frame[frame["asset"] == "m1"].tail(5).to_dict("records")
    (out,) = est.predict(records)
    assert out["points"][0]["time"] == "2026-01-01T00:56:00"
    again = AnomalyEstimator.load(est.save())
    assert again.predict(records) == [out]


def test_spent_time_budget_keeps_the_first_candidate() -> None:
    est = AnomalyEstimator(time_budget_s=0).fit(_normal(4, 80, seed=8), "")
    tried = [c for c in est.report_["candidates"] if "skipped" not in c]
    assert [c["name"] for c in tried] == ["mahalanobis"] and est.report_["chosen"] == "mahalanobis"
    codes = [w["code"] for w in est.report_["warnings"]]
    assert codes.count("candidate-skipped") == 2

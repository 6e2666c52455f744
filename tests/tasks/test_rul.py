"""RulEstimator on small synthetic run-to-failure histories (the C-MAPSS run is bench/rul_cmapss.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.series import SeriesSpec
from shopfloor.errors import ArtifactCorrupted, InvalidDataset, InvalidInput, NotFitted
from shopfloor.tasks.rul import metrics as R
from shopfloor.tasks.rul.estimator import RulEstimator, _asset_folds, train_fold
from shopfloor.tasks.rul.features import Prepared, Scaler, derive_targets, input_values, time_kind

SENSORS = ["wear", "temp", "flow"]


def _histories(n_assets: int = 12, seed: int = 0, prefix: str = "A") -> pd.DataFrame:
    """Assets run to failure after 60-100 cycles; ``wear`` rises over the last 40, the others are noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for a in range(n_assets):
        life = int(rng.integers(60, 100))
        t = np.arange(1, life + 1)
        rising = np.clip(1 - (life - t) / 40, 0, None) ** 2
        parts.append(pd.DataFrame({
            "asset": f"{prefix}{a}", "time": t, "wear": 100 + 30 * rising + rng.normal(0, 0.5, life),
            "temp": rng.normal(50, 1, life), "flow": rng.normal(20, 1, life), "const": 7.0,
        }))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The small networks here gain nothing from a second thread; on a loaded machine two spin and crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def gbm() -> RulEstimator:
    # LightGBM grows trees until its deadline on data this small: a short budget keeps the fit to seconds
    return RulEstimator(candidates=["lightgbm"], time_budget_s=4).fit(_histories(), "")


@pytest.fixture(scope="module")
def net() -> tuple[RulEstimator, list[tuple[float, str, str]]]:
    events: list[tuple[float, str, str]] = []
    est = RulEstimator(candidates=["cnn"], max_epochs=2, time_budget_s=120, seed=1)
    est.fit(_histories(), None, progress=lambda f, s, m: events.append((f, s, m)))
    return est, events


@pytest.fixture(scope="module")
def full() -> RulEstimator:
    return RulEstimator(max_epochs=2, time_budget_s=20, seed=2).fit(_histories(), None)


def _truncated(est: RulEstimator, n_assets: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Fresh assets cut at a random point (as the C-MAPSS test set); records and true remaining life."""
    frame = _histories(n_assets, seed=seed, prefix="T")
    rng = np.random.default_rng(seed)
    records, truth = [], []
    for _, g in frame.groupby("asset", sort=False):
        cut = int(rng.integers(est.window, len(g) + 1))
        records += g.iloc[:cut].drop(columns=["const"]).to_dict("records")
        truth.append(min(len(g) - cut, est.cap))
    return records, np.array(truth, float)


# ------------------------------------------------------------------ targets, features, metrics
def test_targets_count_down_to_the_last_observation_and_are_capped() -> None:
    frame = pd.DataFrame({"asset": ["a"] * 5 + ["b"] * 3, "time": [1, 2, 3, 4, 5, 10, 20, 30], "s": 0.0})
    spec = SeriesSpec("asset", "time", ("s",))
    assert derive_targets(frame, spec, "numeric", None).tolist() == [4, 3, 2, 1, 0, 20, 10, 0]
    assert derive_targets(frame, spec, "numeric", 2.0).tolist() == [2, 2, 2, 1, 0, 2, 2, 0]
    stamps = pd.Series(pd.date_range("2024-01-01", periods=3, freq="30min"))
    assert time_kind(stamps) == "datetime" and time_kind(frame["time"]) == "numeric"
    hourly = pd.DataFrame({"asset": "a", "time": stamps.astype("int64").astype(float), "s": 0.0})
    assert derive_targets(hourly, spec, "datetime", None).tolist() == [1.0, 0.5, 0.0]


def test_window_features_use_only_the_recent_rows() -> None:
    frame = _histories(2)
    spec = SeriesSpec("asset", "time", tuple(SENSORS))
    scaler = Scaler.fit(input_values(frame, spec, True))
    whole = Prepared.build(frame, spec, scaler, True)
    tail = frame[frame["asset"] == "A1"].tail(30)
    recent = Prepared.build(tail, spec, scaler, True)
    last_whole = np.flatnonzero(whole.codes == 1)[-1:]
    np.testing.assert_allclose(recent.features(np.array([29])), whole.features(last_whole), atol=1e-9)
    np.testing.assert_allclose(recent.sequences(30, np.array([29])), whole.sequences(30, last_whole),
                               atol=1e-6)


def test_metrics() -> None:
    true, pred = np.array([10.0, 20.0]), np.array([0.0, 30.0])
    assert R.rmse(true, pred) == 10.0 and R.mae(true, pred) == 10.0
    # early by 10: exp(10/13) - 1; late by 10: exp(1) - 1
    assert R.phm08_score(true, pred) == pytest.approx(np.expm1(10 / 13) + np.expm1(1.0))
    assert R.rmse(true, pred, np.array([1.0, 0.0])) == 10.0
    assert R.coverage(true, pred - 5, pred + 20) == 0.5


# ------------------------------------------------------------------ fit and report
def test_validation_and_held_out_assets_never_share_an_asset() -> None:
    frame = _histories()
    spec = SeriesSpec("asset", "time", tuple(SENSORS))
    prep = Prepared.build(frame, spec, Scaler.fit(input_values(frame, spec, True)), True)
    y = derive_targets(frame, spec, "numeric", 125.0)
    usable = prep.position >= 4
    data = {"y": y, "usable": usable, "codes": prep.codes, "features": None, "sequences": None}
    folds = _asset_folds(12, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(12))
    for k, held in enumerate(folds):
        out = train_fold(data, held, folds, k, components=set(), window=30, cap=125.0, seed=k,
                         max_epochs=1, deadline=float("inf"), progress=lambda *a: None)
        fit, val, test = (set(prep.codes[rows]) for rows in (out.fit_rows, out.val_rows, out.test_rows))
        assert test == set(held.tolist()) and fit | val | test == set(range(12))
        assert fit and val and not fit & val and not fit & test and not val & test
        assert len(out.fit_rows) + len(out.val_rows) + len(out.test_rows) == usable.sum()


def test_report(gbm: RulEstimator) -> None:
    r = gbm.report_
    assert r["task"] == "rul" and r["chosen"] == "lightgbm"
    assert {"rmse", "mae", "phm08_score", "coverage_80", "coverage_95"} <= set(r["metrics"])
    assert r["metrics"]["rmse"] < 15  # a 125-cycle cap on 60-100 cycle lives: guessing scores ~25
    assert [c["name"] for c in r["candidates"]] == ["lightgbm"]
    assert r["stability"]["n"] >= 3 and len(r["stability"]["metrics"]["rmse"]["values"]) >= 3
    assert r["series"] == {"asset": "asset", "time": "time", "sensors": SENSORS, "window": 30,
                           "min_points": 5}
    assert any(w["code"] == "sensor-dropped" and "'const'" in w["message"] for w in r["warnings"])
    assert gbm.input_schema_[:2] == [{"name": "asset", "type": "categorical", "role": "asset"},
                                     {"name": "time", "type": "numeric", "role": "time"}]
    assert [c["name"] for c in gbm.input_schema_[2:]] == SENSORS


def test_network_progress_reports_epochs(net: tuple[RulEstimator, list[tuple[float, str, str]]]) -> None:
    est, events = net
    fractions = [f for f, _, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    epochs = [m for _, s, m in events if s == "training cnn"]
    assert epochs and all(m.startswith("epoch ") and ", validation RMSE " in m for m in epochs)
    assert "epoch 2 of 2" in epochs[-1]
    assert est.report_["chosen"] == "cnn"


def test_every_candidate_is_reported_and_the_best_chosen(full: RulEstimator) -> None:
    r = full.report_
    by_name = {c["name"]: c for c in r["candidates"]}
    assert list(by_name) == ["lightgbm", "cnn", "ensemble"]
    assert all(c["fit_seconds"] > 0 and "early_stopping_rmse" in c for c in r["candidates"])
    assert r["chosen"] == min(by_name, key=lambda n: by_name[n]["metrics"]["rmse"])
    weights = by_name["ensemble"]["weights"]
    assert 0 <= weights["lightgbm"] <= 1 and weights["lightgbm"] + weights["cnn"] == pytest.approx(1)
    # the blend weight is fitted on the same held-out predictions, so it is never worse than either part
    parts = min(by_name[n]["metrics"]["rmse"] for n in ("lightgbm", "cnn"))
    assert by_name["ensemble"]["metrics"]["rmse"] <= parts
    assert r["metrics"]["rmse"] == pytest.approx(by_name[r["chosen"]]["metrics"]["rmse"])


def test_bad_options_and_histories_are_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        RulEstimator(candidates=["lstm"]).fit(_histories(), "")
    assert err.value.errors[0]["loc"] == ["body", "options", "candidates"]
    cases: list[dict[str, Any]] = [{"metric": "r2"}, {"cap": 0}, {"window": 2}, {"max_epochs": 0},
                                   {"candidates": []}, {"age_feature": "yes"}]
    for bad in cases:
        with pytest.raises(InvalidInput) as err:
            RulEstimator(**bad).check_options()
        assert err.value.errors[0]["loc"] == ["body", "options", next(iter(bad))]
    with pytest.raises(InvalidDataset, match="at least 6"):
        RulEstimator().fit(_histories(4), "")


# ------------------------------------------------------------------ predict
def test_predict_one_result_per_asset(gbm: RulEstimator) -> None:
    assert gbm.predict([]) == []
    records, truth = _truncated(gbm, 3, seed=5)
    out = gbm.predict(records)
    assert [o["asset"] for o in out] == ["T0", "T1", "T2"]
    for o in out:
        last = max(r["time"] for r in records if r["asset"] == o["asset"])
        assert o["time"] == last and o["warnings"] == []
        for key in ("interval_80", "interval_95"):
            lo, hi = o[key]
            assert 0 <= lo <= o["rul"] <= hi
        assert o["interval_95"][0] <= o["interval_80"][0] and o["interval_80"][1] <= o["interval_95"][1]
    assert np.sqrt(np.mean((np.array([o["rul"] for o in out]) - truth) ** 2)) < 25


def test_intervals_cover_about_as_promised(gbm: RulEstimator) -> None:
    records, truth = _truncated(gbm, 40, seed=7)
    out = gbm.predict(records)
    cover80 = R.coverage(truth, *(np.array([o["interval_80"][j] for o in out]) for j in (0, 1)))
    cover95 = R.coverage(truth, *(np.array([o["interval_95"][j] for o in out]) for j in (0, 1)))
    assert 0.6 <= cover80 <= 1.0 and cover95 >= 0.8 and cover95 >= cover80
    assert 0.6 <= gbm.report_["metrics"]["coverage_80"] <= 0.97


def test_short_history_and_unsorted_time_name_the_asset(gbm: RulEstimator) -> None:
    records, _ = _truncated(gbm, 2, seed=3)
    short = records + [{"asset": "B", "time": t, "wear": 100.0, "temp": 50.0, "flow": 20.0}
                       for t in (1, 2, 3)]
    with pytest.raises(InvalidInput, match="'B'") as err:
        gbm.predict(short)
    assert err.value.status == 422
    assert err.value.errors[0]["loc"] == ["body", "records", len(records), "asset"]
    swapped = list(records)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    with pytest.raises(InvalidInput, match="'T0'") as err:
        gbm.predict(swapped)
    assert err.value.errors[0]["loc"] == ["body", "records", 4, "time"]


def test_predict_frame_scores_every_row_on_its_past(gbm: RulEstimator) -> None:
    frame = _histories(3, seed=9, prefix="F").drop(columns=["const"]).sample(frac=1, random_state=0)
    frame = frame.sort_values(["time"], kind="stable")  # assets interleaved, each in time order
    frame.index = np.arange(len(frame))[::-1]
    out = gbm.predict_frame(frame)
    assert list(out.columns) == ["rul", "rul_lower_80", "rul_upper_80", "rul_lower_95", "rul_upper_95"]
    assert out.index.equals(frame.index)
    assert out["rul"].isna().to_numpy().tolist() == (frame["time"] < 5).tolist()
    single = gbm.predict(frame.to_dict("records"))
    for o in single:
        row = np.flatnonzero((frame["asset"] == o["asset"]).to_numpy())[-1]
        assert out["rul"].iloc[row] == pytest.approx(o["rul"])
        assert out["rul_lower_80"].iloc[row] == pytest.approx(o["interval_80"][0])


def test_missing_values_and_short_windows_warn(gbm: RulEstimator) -> None:
    records = _histories(1, seed=4, prefix="W").drop(columns=["const"]).head(12).to_dict("records")
    records[5]["temp"] = None
    (out,) = gbm.predict(records)
    assert any("'temp'" in w for w in out["warnings"]) and any("window" in w for w in out["warnings"])


# ------------------------------------------------------------------ explain
def test_gbm_explanation_is_additive_and_finds_the_degrading_sensor(gbm: RulEstimator) -> None:
    frame = _histories(4, seed=11, prefix="E").drop(columns=["const"])
    late = frame.groupby("asset").apply(lambda g: g.iloc[: len(g) - 10], include_groups=False)
    records = late.reset_index(level=0).to_dict("records")
    out = gbm.explain(records)
    assert len(out) == 4
    for e in out:
        assert e["base_value"] + sum(e["contributions"].values()) == pytest.approx(e["output"], abs=1e-6)
        assert set(e["contributions"]) == set(SENSORS)  # the age's share sits in the base value
        assert e["age_contribution"] is not None and e["age_contribution"] != 0
        assert next(iter(e["contributions"])) == "wear"
        values = list(e["contributions"].values())
        assert [abs(v) for v in values] == sorted((abs(v) for v in values), reverse=True)
    with pytest.raises(InvalidInput):
        gbm.explain(records, method="lime")


@pytest.mark.parametrize("which", ["net", "full"])
def test_network_and_blend_explanations_add_up(which: str, request: pytest.FixtureRequest) -> None:
    fitted = request.getfixturevalue(which)
    est = fitted if isinstance(fitted, RulEstimator) else fitted[0]
    weight = est.members_.gbm_weight
    records, _ = _truncated(est, 2, seed=12)
    predicted = est.predict(records)
    for e, p in zip(est.explain(records), predicted, strict=True):
        assert ("integrated gradients" in e["method"]) == (weight < 1)
        assert ("TreeSHAP" in e["method"]) == (weight > 0)
        total = e["base_value"] + sum(e["contributions"].values())
        assert total == pytest.approx(e["output"], abs=0.02 * max(1.0, abs(e["output"] - e["base_value"])))
        assert e["rul"] == pytest.approx(p["rul"])


# ------------------------------------------------------------------ persistence
@pytest.mark.parametrize("which", ["gbm", "net"])
def test_save_load_predicts_identically(which: str, request: pytest.FixtureRequest) -> None:
    fitted = request.getfixturevalue(which)
    est = fitted if isinstance(fitted, RulEstimator) else fitted[0]
    files = est.save()
    assert all(name.endswith((".json", ".txt", ".safetensors")) for name in files)
    assert ("net.safetensors" in files) == (which == "net")
    assert any(name.endswith(".txt") for name in files) == (which == "gbm")
    loaded = RulEstimator.load(files)
    records, _ = _truncated(est, 3, seed=13)
    assert loaded.predict(records) == est.predict(records)
    assert loaded.report_ == est.report_ and loaded.input_schema_ == est.input_schema_
    with pytest.raises(ArtifactCorrupted):
        RulEstimator.load({k: v for k, v in files.items() if k != "rul.json"})
    damaged = "lightgbm_0.txt" if which == "gbm" else "net.safetensors"
    with pytest.raises(ArtifactCorrupted):
        RulEstimator.load({**files, damaged: b"not a model"})


def test_not_fitted() -> None:
    est = RulEstimator()
    for call in (lambda: est.predict([]), lambda: est.explain([]), est.save,
                 lambda: est.predict_frame(_histories(1))):
        with pytest.raises(NotFitted):
            call()


def test_timestamps_give_hours() -> None:
    frame = _histories(6, seed=2)
    frame["time"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame["time"] * 2, unit="h")
    est = RulEstimator(candidates=["lightgbm"], time_budget_s=2.5).fit(frame, "")
    assert est.report_["target"]["unit"] == "hours" and est.report_["features"]["age"] is None
    assert est.input_schema_[1] == {"name": "time", "type": "datetime", "role": "time"}
    records = frame[frame["asset"] == "A0"].drop(columns=["const"]).head(40)
    records = records.assign(time=records["time"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_dict("records")
    (out,) = est.predict(records)
    assert out["time"] == records[-1]["time"] and out["rul"] > 0

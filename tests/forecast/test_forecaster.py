"""The forecasting family on small synthetic panels: checks, backtest choice, intervals, artifacts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.wide import to_long
from shopfloor.errors import ArtifactCorrupted, InvalidDataset, InvalidInput, NotFitted
from shopfloor.services import forecasting
from shopfloor.tasks.forecast import backtest as B
from shopfloor.tasks.forecast import metrics as FM
from shopfloor.tasks.forecast.estimator import ARRAYS_FILE, Forecaster
from shopfloor.tasks.forecast.panel import build_panel, demand_classes

QUICK = {"horizon": 4, "candidates": ["auto_ets", "theta"], "time_budget_s": 60}


def panel(n: int = 8, periods: int = 36, seed: int = 0, dates: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        level, season = rng.uniform(10, 50), rng.uniform(0, 8)
        for t in range(periods):
            y = level + season * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2)
            rows.append({"sku": f"S{i}", "t": t, "qty": max(0.0, round(y))})
    frame = pd.DataFrame(rows)
    if dates:
        frame["t"] = pd.Timestamp("2023-01-01") + pd.to_timedelta(frame["t"] * 7, unit="D")
    return frame


def fitted(**params: Any) -> Forecaster:
    return Forecaster(series_column="sku", time_column="t", value_column="qty", **{**QUICK, **params}).fit(
        panel()
    )


def test_backtest_picks_a_model_that_beats_seasonal_naive_and_reports_every_step() -> None:
    est = fitted()
    report = est.report_
    scores = {c["name"]: c["mase"] for c in report["candidates"]}
    assert report["chosen"] in scores and scores[report["chosen"]] == min(scores.values())
    assert scores[report["chosen"]] < scores["seasonal_naive"]
    assert report["backtest"] == {
        "method": "rolling origin", "windows": 3, "horizon": 4, "origins_before_end": [12, 8, 4],
        "residuals": 24,
    }  # fmt: skip
    for c in report["candidates"]:
        assert len(c["mase_by_step"]) == len(c["smape_by_step"]) == 4
    assert 0 <= report["metrics"]["coverage"]["80"] <= report["metrics"]["coverage"]["95"] <= 1


def test_forecasts_intervals_and_artifact_round_trip() -> None:
    est = fitted()
    out = est.forecast(["S0"], 2, [50, 90])
    item = out[0]
    assert item["periods"] == [36, 37] and len(item["forecast"]) == 2
    assert all(
        item["intervals"]["90"]["lower"][k] <= item["intervals"]["50"]["lower"][k] <= item["forecast"][k]
        for k in range(2)
    )
    again = Forecaster.load(est.save())
    assert again.forecast("all", 4, [80]) == est.forecast("all", 4, [80])
    assert again.predict([{"sku": "S3"}])[0]["series"] == "S3"
    assert again.explain([{"sku": "S3"}])[0]["model"] == est.report_["chosen"]
    with pytest.raises(InvalidInput) as caught:
        est.forecast("all", 5)
    assert caught.value.errors[0]["loc"] == ["body", "horizon"]
    with pytest.raises(InvalidInput) as caught:
        est.forecast(["S0", "nope"], 2)
    assert caught.value.errors[0]["loc"] == ["body", "series", 1]
    files = est.save()
    with pytest.raises(ArtifactCorrupted):
        Forecaster.load({**files, ARRAYS_FILE: b"broken"})
    with pytest.raises(NotFitted):
        Forecaster().forecast()


def test_dates_per_series_choice_and_calendar() -> None:
    est = Forecaster(series_column="sku", time_column="t", value_column="qty", per_series=True, **QUICK)
    est.fit(panel(dates=True))
    assert est.report_["chosen"] == "per_series" and sum(est.report_["per_series_choice"].values()) == 8
    assert est.report_["series"]["frequency"].startswith("W")
    # 36 weeks hold fewer than two yearly seasons: no seasonality, said in a note
    assert est.report_["series"]["season_length"] == 1
    assert any(w["code"] == "season-dropped" for w in est.report_["warnings"])
    item = est.forecast(["S1"], 1)[0]
    assert item["periods"] == [(pd.Timestamp("2023-01-01") + pd.Timedelta(weeks=36)).isoformat()]
    assert item["model"] in {c["name"] for c in est.report_["candidates"]}


def test_global_boosted_model_and_intermittent_candidates() -> None:
    frame = panel(n=10)
    frame.loc[frame["sku"].isin(["S1", "S2"]) & (frame["t"] % 3 != 0), "qty"] = 0.0
    est = Forecaster(series_column="sku", time_column="t", value_column="qty", horizon=3, time_budget_s=120)
    est.fit(frame)
    names = {c["name"] for c in est.report_["candidates"]}
    assert {"global_gbm", "croston", "imapa", "tsb", "auto_arima"} <= names
    assert est.report_["series"]["demand_classes"].get("intermittent", 0) >= 2
    assert min(min(f["forecast"]) for f in est.forecast()) >= 0  # demand is never negative


def test_a_candidate_timed_during_a_stall_is_timed_again_before_it_is_left_out(monkeypatch) -> None:
    real = B.estimate_seconds
    calls: dict[str, int] = {}

    def stalling(names, *args, **kwargs):  # theta stalls on its first timing only; auto_ets always
        out = real(names, *args, **kwargs)
        for n in out:
            calls[n] = calls.get(n, 0) + 1
            if n == "auto_ets" or (n == "theta" and calls[n] == 1):
                out[n] = 1e6
        return out

    monkeypatch.setattr(B, "estimate_seconds", stalling)
    est = fitted()
    names = {c["name"] for c in est.report_["candidates"]}
    assert "theta" in names and "auto_ets" not in names
    assert calls == {"seasonal_naive": 1, "auto_ets": 2, "theta": 2}
    skipped = [w["message"] for w in est.report_["warnings"] if w["code"] == "candidate-skipped"]
    assert len(skipped) == 1 and skipped[0].startswith("auto_ets left out")


def test_bad_tables_are_refused_with_where() -> None:
    base = panel()
    dup = pd.concat([base, base.iloc[[5]]], ignore_index=True)
    cases = [
        (dup, ["rows", len(base), "t"]),
        (base.assign(qty=base["qty"].astype(object).where(base.index != 7, "lots")), ["rows", 7, "qty"]),
        (base.assign(t=base["t"].astype(float).where(base.index != 3, 2.5)), ["rows", 3, "t"]),
    ]
    for frame, loc in cases:
        with pytest.raises(InvalidInput) as caught:
            build_panel(frame, "sku", "t", "qty")
        assert caught.value.errors[0]["loc"] == loc
    with pytest.raises(InvalidInput) as caught:
        build_panel(base, "sku", "t", "nope")
    assert caught.value.errors[0]["loc"] == ["body", "options", "value_column"]
    with pytest.raises(InvalidInput) as caught:
        build_panel(base, "sku", "t", "qty", season_length=52)
    assert "shorter than a season" in caught.value.detail
    with pytest.raises(InvalidInput) as caught:
        Forecaster(series_column="sku", time_column="t", value_column="qty", horizon=16).check_data(base)
    assert caught.value.errors[0]["loc"] == ["body", "options", "horizon"]
    gaps = base[~((base["sku"] == "S0") & base["t"].isin([4, 5]))]
    assert build_panel(gaps, "sku", "t", "qty").filled == 2


def test_demand_classes_and_metrics() -> None:
    classes = demand_classes({"a": np.ones(20), "b": np.array([0, 0, 0, 5] * 5, float), "c": np.zeros(5)})
    assert classes == {"a": "smooth", "b": "intermittent", "c": "zero"}
    assert FM.naive_scale(np.array([1.0, 3.0, 2.0]), 1) == 1.5
    assert np.isnan(FM.naive_scale(np.ones(5), 1))
    assert FM.smape(np.array([[0.0, 1.0]]), np.array([[0.0, 3.0]])).tolist() == [[0.0, 100.0]]
    lo, hi = B.quantiles(np.arange(-50, 50, dtype=float)[:, None], 0.8)
    assert lo[0] <= -40 and hi[0] >= 39


def test_wide_tables_become_long() -> None:
    wide = pd.DataFrame(
        {"code": ["A", "B"], "W0": [1, 2], "W1": [3, 4], "W2": [5, 6], "MAX": [5, 6], "Norm 0": [0, 0],
         "Norm 1": [1, 1], "Norm 2": [1, 1]}
    )  # fmt: skip
    long, report = to_long(wide)
    assert list(long.columns) == ["code", "period", "value"] and len(long) == 6
    assert long["value"].tolist() == [1, 3, 5, 2, 4, 6]
    assert report["dropped_columns"] == ["MAX", "Norm 0", "Norm 1", "Norm 2"]
    other, _ = to_long(wide, period_prefix="Norm ")
    assert other["value"].tolist()[:3] == [0, 1, 1]
    dated = pd.DataFrame({"id": ["x"], "2024-01-07": [1], "2024-01-14": [2], "2024-01-21": [3]})
    long, report = to_long(dated)
    assert report["period_columns"]["periods"] == "dates" and long["period"].iloc[2] == pd.Timestamp(
        "2024-01-21"
    )
    with pytest.raises(InvalidDataset) as caught:
        to_long(wide.assign(W1=["3", "x"]))
    assert caught.value.errors[0]["loc"] == ["line", 3, "W1"]
    with pytest.raises(InvalidDataset):
        to_long(pd.DataFrame({"a": [1], "b": [2]}))


def test_forecast_route_refuses_models_of_other_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = SimpleNamespace(version=SimpleNamespace(task="tabular_classification", version=1, report={}))
    platform = SimpleNamespace(models=SimpleNamespace(get=lambda *a: loaded))
    with pytest.raises(InvalidInput) as caught:
        forecasting.forecast(platform, "t", "m", None, {"series": "all"})  # type: ignore[arg-type]
    assert caught.value.errors[0]["loc"] == ["path", "name"]


def _promotions(n: int = 12, periods: int = 48, ahead: int = 4) -> pd.DataFrame:
    """Demand that jumps in promotion weeks; the promotion plan is known ``ahead`` weeks beyond the data."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        level = rng.uniform(10, 30)
        plan = (rng.random(periods + ahead) < 0.3).astype(float)
        plan[periods : periods + ahead] = [1.0, 0.0, 1.0, 0.0]
        for t in range(periods + ahead):
            qty = level * (1 + 1.5 * plan[t]) + rng.normal(0, 1) if t < periods else None
            rows.append({"sku": f"S{i}", "t": t, "qty": qty, "promo": plan[t]})
    return pd.DataFrame(rows)


def test_known_in_advance_covariates_drive_the_global_model() -> None:
    frame = _promotions()
    est = Forecaster(
        series_column="sku", time_column="t", value_column="qty", horizon=4, covariates=["promo"],
        candidates=["auto_ets", "global_gbm"], time_budget_s=120,
    )  # fmt: skip
    est.fit(frame)
    scores = {c["name"]: c["mase"] for c in est.report_["candidates"]}
    assert scores["global_gbm"] < 0.7 * scores["auto_ets"]  # the plan explains the jumps
    assert est.report_["series"]["covariates"] == ["promo"]
    point = np.array([f["forecast"] for f in est.forecast("all", 4, [80])])
    # weeks 48 and 50 are promotion weeks in every plan: forecast well above weeks 49 and 51
    assert est.report_["chosen"] in ("global_gbm", "ensemble")
    assert np.all(point[:, 0] > 1.5 * point[:, 1]) and np.all(point[:, 2] > 1.5 * point[:, 3])
    # without covariates the rows past the data are left out with a note, not read as zero demand
    plain = Forecaster(series_column="sku", time_column="t", value_column="qty", **QUICK).fit(frame)
    assert any(w["code"] == "trailing-rows-dropped" for w in plain.report_["warnings"])
    assert plain.report_["series"]["periods"]["max"] == 48

    with pytest.raises(InvalidInput) as caught:  # the plan reaches 4 weeks ahead, not 6
        Forecaster(
            series_column="sku", time_column="t", value_column="qty", horizon=6, covariates=["promo"]
        ).check_data(frame)
    assert caught.value.errors[0]["loc"] == ["body", "options", "horizon"]
    holes = frame.assign(promo=frame["promo"].where(frame.index != 10))
    with pytest.raises(InvalidInput) as caught:
        build_panel(holes, "sku", "t", "qty", covariates=["promo"])
    assert caught.value.errors[0]["loc"] == ["rows", 10, "promo"]
    with pytest.raises(InvalidInput) as caught:
        build_panel(frame, "sku", "t", "qty", covariates=["qty"])
    assert caught.value.errors[0]["loc"] == ["body", "options", "covariates"]

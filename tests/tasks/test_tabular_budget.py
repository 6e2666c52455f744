"""The time budget holds on very wide tables (raw vibration windows uploaded as columns)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.profile import profile_frame
from shopfloor.evaluation.stability import stability
from shopfloor.tasks.tabular.budget import Budget, keep_count
from shopfloor.tasks.tabular.estimator import TabularEstimator

#: what a fit may take past its budget: the final refit, the rules and the report (small tables)
MARGIN_S = 4.0


def _wide(rows: int, cols: int, kind: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols))
    frame = pd.DataFrame(X, columns=[f"v{i:04d}" for i in range(cols)])
    z = X[:, 3] + 0.8 * X[:, 100 % cols] - 0.6 * X[:, 700 % cols] + 0.3 * rng.normal(size=rows)
    frame["target"] = (z > 0).astype(int) if kind == "classification" else z
    return frame


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_a_wide_table_ends_near_its_budget_and_says_what_was_cut(kind: str) -> None:
    frame = _wide(300, 1024, kind)
    started = time.perf_counter()
    est = TabularEstimator(kind=kind, time_budget_s=5).fit(frame, "target")
    wall = time.perf_counter() - started
    report = est.report_
    assert wall < 5 + MARGIN_S, report["budget"]
    # used_seconds is rounded to the millisecond: it may pass the wall time measured here by half of one
    assert report["budget"]["seconds"] == 5 and report["budget"]["used_seconds"] <= round(wall, 3)
    steps = {c["step"] for c in report["budget"]["cuts"]}
    assert "input screening" in steps
    assert any(w["code"] == "time-budget" for w in report["warnings"])
    screening = report["features"]["screening"]
    assert screening["inputs"] == 1024 and screening["kept"] == keep_count(5) == 100
    assert len(screening["screened_out"]) == 1024 - 100
    inputs = {c["name"] for c in est.input_schema_}
    assert len(inputs) == 100 and {"v0003", "v0100", "v0700"} <= inputs
    if kind == "classification":
        assert report["metrics"]["accuracy"] > 0.65  # 60 hold-out rows; chance is 0.5
    else:
        assert report["metrics"]["r2"] > 0.5
    # A caller still sends whole rows: the screened-out columns are ignored.
    record = frame.drop(columns=["target"]).iloc[0].to_dict()
    assert len(est.predict([record])) == 1
    assert est.explain([record])[0]["contributions"].keys() == inputs


def test_a_narrow_table_is_not_screened() -> None:
    frame = _wide(200, 20, "classification")
    est = TabularEstimator(time_budget_s=5).fit(frame, "target")
    assert est.report_["features"]["screening"] is None
    assert "input screening" not in {c["step"] for c in est.report_["budget"]["cuts"]}


def test_stability_stops_at_its_deadline() -> None:
    calls: list[int] = []

    def fit_and_score(tr: np.ndarray, te: np.ndarray) -> dict[str, float]:
        calls.append(len(tr))
        time.sleep(0.05)
        return {"score": 1.0}

    out = stability(fit_and_score, 50, n_splits=5, deadline=time.perf_counter() + 0.12)
    assert 1 <= out["n"] < 5 and out["skipped"] == 5 - out["n"] == 5 - len(calls)
    none = stability(fit_and_score, 50, n_splits=5, deadline=time.perf_counter(), split_seconds=1.0)
    assert none["n"] == 0 and none["skipped"] == 5 and none["metrics"] == {}
    full = stability(fit_and_score, 50, n_splits=5)
    assert full["n"] == 5 and "skipped" not in full


def test_budget_records_cuts() -> None:
    budget = Budget(10.0, start=time.perf_counter() - 11.0)
    budget.cut("stability", "2 of 5 seeded refits run, 3 skipped")
    report = budget.report()
    assert report["cuts"] == [{"step": "stability", "message": "2 of 5 seeded refits run, 3 skipped"}]
    assert report["over_seconds"] >= 1.0 and budget.at(0.5) == budget.start + 5.0


def test_a_wide_table_profiles_quickly() -> None:
    frame = _wide(2000, 2048, "classification").drop(columns=["target"])
    started = time.perf_counter()
    profile = profile_frame(frame)
    assert time.perf_counter() - started < 10
    assert len(profile) == 2048 and {c["type"] for c in profile} == {"numeric"}


def test_a_lightgbm_fit_stops_at_its_deadline() -> None:
    from shopfloor.tasks.tabular.models import make_model

    frame = _wide(200, 20, "classification")
    X, y = frame.drop(columns=["target"]).to_numpy(), frame["target"].to_numpy()
    late = make_model("lightgbm", "classification", 2, {"n_estimators": 50}).fit(X, y, time.perf_counter())
    assert late.stopped_ and late.booster_.current_iteration() <= 2  # type: ignore[attr-defined]
    whole = make_model("lightgbm", "classification", 2, {"n_estimators": 50}).fit(X, y)
    assert not whole.stopped_ and whole.booster_.current_iteration() == 50  # type: ignore[attr-defined]
    assert late.predict_output(X).shape == (200, 2)


def test_a_lightgbm_fit_with_no_split_left_is_not_reported_stopped_by_its_deadline() -> None:
    from shopfloor.tasks.tabular.models import make_model

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), np.zeros(60)  # nothing to learn: LightGBM stops growing trees
    y[:5] = 1.0
    X[:, :] = 1.0
    fit = make_model("lightgbm", "regression", 0, {"n_estimators": 50}).fit(X, y, time.perf_counter() + 600)
    assert fit.booster_.current_iteration() < 50  # type: ignore[attr-defined]
    assert not fit.stopped_  # type: ignore[attr-defined]

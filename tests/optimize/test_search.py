"""The search and the analysis around its answer, on small tabular models trained here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import shopfloor.optimize as optimize
from press import RAD, press_request
from shopfloor.errors import JobCancelled
from shopfloor.optimize import model_outcome, parse, solve
from shopfloor.optimize.feasibility import Feasibility
from shopfloor.optimize.problem import Problem
from shopfloor.tasks.tabular.estimator import TabularEstimator


def _machines(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "speed": rng.uniform(1200, 2800, n),
            "torque": rng.uniform(10, 70, n),
            "wear": rng.uniform(0, 200, n),
            "Type": rng.choice(["L", "M", "H"], n),
        }
    )
    power = frame["torque"] * frame["speed"] * RAD
    frame["failure"] = ((power > 9000) | (frame["speed"] < 1450)).astype(int)
    frame["quality"] = 100 - ((frame["speed"] - 2000) / 100) ** 2 - 0.1 * frame["torque"]
    return frame


@pytest.fixture(scope="module")
def classifier() -> TabularEstimator:
    return TabularEstimator(time_budget_s=5, seed=0).fit(_machines().drop(columns=["quality"]), "failure")


@pytest.fixture(scope="module")
def regressor() -> TabularEstimator:
    frame = _machines().drop(columns=["failure"])
    return TabularEstimator(kind="regression", time_budget_s=2, seed=0).fit(frame, "quality")


def _problem(est: TabularEstimator, request: dict[str, Any]) -> Problem:
    classes = [str(c) for c in est.classes_] if est.kind == "classification" else None
    return parse(request, est.input_schema_, classes, classes[-1] if classes else None)


def _power(settings: dict[str, Any]) -> float:
    return float(settings["torque"] * settings["speed"] * RAD)


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_lowest_failure_probability_within_bounds_and_constraint(
    classifier: TabularEstimator, sampler: str
) -> None:
    problem = _problem(classifier, press_request(sampler=sampler))
    answer = solve(problem, model_outcome(classifier, "1"))
    assert answer["status"] == "optimal", answer
    best = answer["best"]
    speed, torque = best["settings"]["speed"], best["settings"]["torque"]
    assert 1200 <= speed <= 2800 and 10 <= torque <= 70
    assert _power(best["settings"]) >= 3500
    assert best["derived"]["power_w"] == pytest.approx(_power(best["settings"]))
    (again,) = classifier.predict([best["record"]])
    assert again["probabilities"]["1"] == best["predicted"]
    assert best["predicted"] < 0.2
    current = answer["current"]
    assert current["predicted"] > 0.5 and current["improvement"] > 0.3 and current["feasible"]
    assert answer["trials"] == 60 and 0 < answer["feasible_trials"] <= 60
    (constraint,) = answer["constraints"]
    assert constraint["satisfied"] and constraint["lhs"] == pytest.approx(_power(best["settings"]))


def test_analysis_around_the_optimum(classifier: TabularEstimator) -> None:
    problem = _problem(classifier, press_request())
    answer = solve(problem, model_outcome(classifier, "1"))
    u = answer["uncertainty"]
    assert u["points"] == 64 and u["tolerance"] == 0.01
    assert u["min"] <= u["p05"] <= u["mean"] <= u["p95"] <= u["max"] and u["std"] >= 0
    best = answer["best"]["settings"]
    kept = [best]
    assert 1 <= len(answer["runner_ups"]) <= 3
    for runner in answer["runner_ups"]:
        assert runner["predicted"] >= answer["best"]["predicted"]
        assert _power(runner["settings"]) >= 3500
        assert all(
            abs(runner["settings"]["speed"] - k["speed"]) >= 80
            or abs(runner["settings"]["torque"] - k["torque"]) >= 3
            for k in kept
        )
        kept.append(runner["settings"])
    for name, span in (("speed", 1600), ("torque", 60)):
        s = answer["sensitivity"][name]
        assert len(s["curve"]) == 11
        assert s["curve"][0]["at"] == problem.controls[0 if name == "speed" else 1].low
        assert s["high"]["at"] - s["low"]["at"] <= 0.1 * span + 1e-9
        if s["slope"] is not None:
            gap = s["high"]["predicted"] - s["low"]["predicted"]
            assert s["slope"] == pytest.approx(gap / (s["high"]["at"] - s["low"]["at"]))
    # Low speed fails in the training data; the curve across speed shows it.
    assert answer["sensitivity"]["speed"]["curve"][0]["predicted"] > 0.5


def test_maximise_a_regression_value_with_a_linear_constraint(regressor: TabularEstimator) -> None:
    request = press_request(
        objective="maximize",
        derived={},
        constraints=[{"terms": {"speed": 1, "torque": 10}, "op": "<=", "value": 2600}],
        current=None,
        trials=80,
    )
    problem = _problem(regressor, request)
    answer = solve(problem, model_outcome(regressor, None))
    assert answer["status"] == "optimal" and answer["output"] == {"kind": "value"}
    assert answer["feasibility"].startswith("linear programme")
    settings = answer["best"]["settings"]
    assert settings["speed"] + 10 * settings["torque"] <= 2600
    assert 1750 <= settings["speed"] <= 2250  # the quality peak is at 2000 rpm
    assert answer["current"] is None
    runner_values = [r["predicted"] for r in answer["runner_ups"]]
    assert all(v <= answer["best"]["predicted"] for v in runner_values)


def test_categorical_control(classifier: TabularEstimator) -> None:
    request = press_request(
        controls={
            "speed": {"min": 1200, "max": 2800},
            "torque": {"min": 10, "max": 70},
            "Type": {"values": ["L", "H"]},
        },
        fixed={"wear": 100},
        current={"speed": 2600, "torque": 60, "Type": "L"},
    )
    answer = solve(_problem(classifier, request), model_outcome(classifier, "1"))
    assert answer["best"]["settings"]["Type"] in ("L", "H")
    assert [p["at"] for p in answer["sensitivity"]["Type"]["curve"]] == ["L", "H"]
    assert "slope" not in answer["sensitivity"]["Type"]


def test_infeasible_before_the_search(classifier: TabularEstimator) -> None:
    request = press_request(constraints=[{"terms": {"power_w": 1}, "op": ">=", "value": 50000}])
    calls: list[Any] = []
    answer = solve(
        _problem(classifier, request), lambda records: calls.append(records) or np.zeros(len(records))
    )
    assert answer["status"] == "infeasible" and answer["trials"] == 0 and not calls
    assert "power_w >= 50000" in answer["reason"]
    assert answer["least_violation"]["violations"][0]["by"] > 0


def test_infeasible_when_no_trial_meets_the_constraints(
    classifier: TabularEstimator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(optimize, "check_feasible", lambda problem: Feasibility(True, "assumed", []))
    request = press_request(constraints=[{"terms": {"power_w": 1}, "op": ">=", "value": 50000}], trials=12)
    answer = solve(_problem(classifier, request), model_outcome(classifier, "1"))
    assert answer["status"] == "infeasible" and answer["checked_by"] == "search"
    assert answer["trials"] == 12 and answer["feasible_trials"] == 0
    assert answer["least_violation"]["violations"][0]["constraint"] == "power_w >= 50000"


def test_progress_every_five_percent_and_cancellation(classifier: TabularEstimator) -> None:
    seen: list[tuple[float, str]] = []
    solve(
        _problem(classifier, press_request(trials=40)),
        model_outcome(classifier, "1"),
        lambda f, s, m: seen.append((f, s)),
    )
    searched = [f for f, s in seen if s == "search"]
    assert len(searched) == 20 and searched == sorted(searched) and searched[-1] == pytest.approx(0.9)

    def cancel(fraction: float, stage: str, message: str) -> None:
        if stage == "search":
            raise JobCancelled("cancelled")

    with pytest.raises(JobCancelled):
        solve(_problem(classifier, press_request(trials=40)), model_outcome(classifier, "1"), cancel)


def test_same_seed_same_answer(classifier: TabularEstimator) -> None:
    problem = _problem(classifier, press_request(trials=30, seed=7))
    first = solve(problem, model_outcome(classifier, "1"))
    second = solve(problem, model_outcome(classifier, "1"))
    assert first["best"] == second["best"] and first["runner_ups"] == second["runner_ups"]


def test_a_time_budget_stops_the_search_and_the_answer_says_so(regressor: TabularEstimator) -> None:
    # A synchronous request must not hold a thread for trials x model cost: past the budget no new
    # batch is asked, and the answer reports the trials it ran.
    fixed = {"torque": 40, "wear": 10, "Type": "M"}
    request = {"controls": {"speed": {"min": 1200, "max": 2800}}, "fixed": fixed}
    outcome = model_outcome(regressor, None)
    stopped = solve(_problem(regressor, {**request, "trials": 300}), outcome, budget_s=0.0)
    assert stopped["status"] == "optimal" and 1 <= stopped["trials"] < 300
    assert "stopped after" in stopped["stopped"]
    assert "stopped" not in solve(_problem(regressor, {**request, "trials": 20}), outcome, budget_s=60.0)

"""Prescriptive optimisation: the settings of a tabular model's controllable inputs that minimise
or maximise its prediction, within bounds and constraints.

    problem = parse(request, schema, classes, default_class)   # 422 on a bad request
    answer = solve(problem, model_outcome(estimator, problem.output))

:func:`solve` checks feasibility first (:mod:`.feasibility`), searches with Optuna
(:mod:`.search`) and describes the optimum (:mod:`.analysis`). Its answer is plain JSON:
``status`` is "optimal" or "infeasible" (with the reason and the least violating settings).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from shopfloor.optimize import analysis
from shopfloor.optimize.feasibility import check_feasible, violation_view
from shopfloor.optimize.problem import Problem, parse
from shopfloor.optimize.search import Outcome, best_trial, least_violating, search
from shopfloor.tasks.base import ProgressFn, no_progress

__all__ = ["Problem", "model_outcome", "parse", "solve"]


def model_outcome(estimator: Any, output: str | None) -> Outcome:
    """The number optimised for each record: the probability of class ``output``, or the value."""

    def outcome(records: Any) -> np.ndarray:
        predictions = estimator.predict(list(records))
        if output is None:
            return np.array([p["value"] for p in predictions], dtype=float)
        return np.array([p["probabilities"][output] for p in predictions], dtype=float)

    return outcome


def solve(
    problem: Problem, outcome: Outcome, progress: ProgressFn = no_progress, budget_s: float | None = None
) -> dict[str, Any]:
    """Check feasibility, search, and describe the optimum. ``progress`` exceptions propagate.

    ``budget_s`` bounds the search (see :func:`search`); an answer from fewer trials than asked
    says so in ``stopped``.
    """
    started = time.perf_counter()
    head: dict[str, Any] = {
        "objective": problem.objective,
        "output": {"kind": "value"}
        if problem.output is None
        else {"kind": "probability", "class": problem.output},
        "sampler": problem.sampler,
        "seed": problem.seed,
    }
    progress(0.01, "feasibility", "checking that the constraints can be met within the bounds")
    feasibility = check_feasible(problem)
    if not feasibility.feasible:
        return {
            **head,
            "status": "infeasible",
            "reason": feasibility.reason,
            "least_violation": feasibility.least_violation,
            "checked_by": feasibility.method,
            "trials": 0,
            "feasible_trials": 0,
            "seconds": round(time.perf_counter() - started, 3),
        }
    trials = search(problem, outcome, feasibility.seeds, progress, 0.05, 0.9, budget_s)
    if len(trials) < problem.trials:
        head["stopped"] = (
            f"the search stopped after {len(trials)} of {problem.trials} trials: a synchronous answer "
            f"searches for at most {budget_s:g} s; ask for a job (more than 300 trials) for a longer search"
        )
    feasible = sum(t.feasible for t in trials)
    best = best_trial(problem, trials)
    if best is None:
        least = least_violating(trials)
        return {
            **head,
            "status": "infeasible",
            "reason": f"none of the {len(trials)} trials met every constraint; more trials or wider "
            "bounds may find a feasible setting",
            "least_violation": violation_view(problem, least.settings),
            "checked_by": "search",
            "trials": len(trials),
            "feasible_trials": 0,
            "seconds": round(time.perf_counter() - started, 3),
        }
    progress(0.92, "analysis", "uncertainty, runner-ups and sensitivity around the optimum")
    settings = best.settings
    return {
        **head,
        "status": "optimal",
        "best": {
            "settings": settings,
            "record": problem.record(settings),
            "predicted": best.predicted,
            "derived": analysis.derived_values(problem, settings),
        },
        "uncertainty": analysis.uncertainty(problem, outcome, settings),
        "current": analysis.current(problem, outcome, best.predicted),
        "runner_ups": analysis.runner_ups(problem, trials, best),
        "sensitivity": analysis.sensitivity(problem, outcome, settings),
        "constraints": analysis.constraint_values(problem, settings),
        "feasibility": feasibility.method,
        "trials": len(trials),
        "feasible_trials": feasible,
        "seconds": round(time.perf_counter() - started, 3),
    }

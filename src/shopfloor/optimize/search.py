"""The search itself: an Optuna study over the controls, asked and told one trial at a time.

TPE sees the constraints as Optuna constraints (``trial.set_constraint``), so it learns where the
feasible region is. CMA-ES cannot use them, so an infeasible trial is told a penalised value:
worse than every outcome seen so far, by more the further it is from feasible.
The study always minimises; a maximised outcome is negated (``Problem.sign``). Trials are asked
in small batches so that the model scores several settings per call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopfloor.optimize.problem import Control, Problem
from shopfloor.tasks.base import ProgressFn, no_progress

log = logging.getLogger(__name__)

#: ``outcome(records) -> one number per record``: the model output being optimised.
Outcome = Callable[[Sequence[dict[str, Any]]], np.ndarray]
#: Progress is reported this many times over a search (every 5 % of the trials).
PROGRESS_STEPS = 20
#: Trials asked together and scored in one model call (a forest pays ~50 ms per call, whatever
#: the rows): one per 25 trials of the budget, at most this many. TPE's constant liar keeps the
#: trials of one batch apart.
MAX_BATCH = 16


@dataclass(frozen=True)
class Trial:
    """One evaluated setting: the model's outcome there and its total relative violation (0: feasible)."""

    number: int
    settings: dict[str, Any]
    predicted: float
    violation: float

    @property
    def feasible(self) -> bool:
        return self.violation <= 0.0


def _sampler(problem: Problem) -> Any:
    import optuna

    if problem.sampler == "cmaes":
        # Categorical controls and one-dimensional spaces fall back to independent sampling.
        return optuna.samplers.CmaEsSampler(seed=problem.seed, warn_independent_sampling=False)
    startup = max(5, min(10, problem.trials // 10))
    return optuna.samplers.TPESampler(seed=problem.seed, n_startup_trials=startup)


def search(
    problem: Problem,
    outcome: Outcome,
    seeds: Sequence[dict[str, Any]] = (),
    progress: ProgressFn = no_progress,
    start: float = 0.0,
    end: float = 1.0,
    budget_s: float | None = None,
) -> list[Trial]:
    """Run ``problem.trials`` trials (``seeds`` first) and return them all, in order.

    ``progress`` gets fractions from ``start`` to ``end``; an exception it raises (cancellation)
    stops the search. With ``budget_s``, no new batch is asked after that many seconds: the
    trials done so far are returned (at least one batch), so a slow model or many controls
    cannot hold a synchronous request past its bound.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=_sampler(problem))
    for seed in list(seeds)[: problem.trials]:
        study.enqueue_trial({c.name: _inside(c, seed[c.name]) for c in problem.controls})
    every = max(1, problem.trials // PROGRESS_STEPS)
    batch = max(1, min(MAX_BATCH, problem.trials // 25))
    out: list[Trial] = []
    seen: list[float] = []
    deadline = None if budget_s is None else time.monotonic() + budget_s
    while len(out) < problem.trials and not (out and deadline is not None and time.monotonic() > deadline):
        asked = [study.ask() for _ in range(min(batch, problem.trials - len(out)))]
        settings = [{c.name: _suggest(trial, c) for c in problem.controls} for trial in asked]
        predicted = outcome([problem.record(s) for s in settings])
        for trial, setting, y in zip(asked, settings, predicted.tolist(), strict=True):
            violations = problem.violations(setting)[:, 0]
            value = problem.sign * y
            seen.append(value)
            total = float(violations.sum())
            if problem.sampler == "tpe":
                for i, v in enumerate(violations):
                    trial.set_constraint(f"c{i}", float(v))
            elif total > 0:
                worst, best = max(seen), min(seen)
                value = worst + (worst - best + 1e-9) * (1.0 + total)
            study.tell(trial, value)
            out.append(Trial(len(out), setting, y, total))
            n = len(out)
            if n % every == 0 or n == problem.trials:
                feasible = sum(t.feasible for t in out)
                fraction = start + (end - start) * n / problem.trials
                progress(fraction, "search", f"{n} of {problem.trials} trials, {feasible} feasible")
    return out


def _inside(control: Control, value: Any) -> Any:
    """A seed value kept within the bounds (a linear programme may land a rounding error outside)."""
    return min(max(float(value), control.low), control.high) if control.continuous else value


def _suggest(trial: Any, control: Control) -> Any:
    if control.continuous:
        return trial.suggest_float(control.name, control.low, control.high)
    return trial.suggest_categorical(control.name, list(control.values))


def best_trial(problem: Problem, trials: Sequence[Trial]) -> Trial | None:
    """The feasible trial with the best outcome (the earliest among equals), or None."""
    feasible = [t for t in trials if t.feasible]
    return min(feasible, key=lambda t: (problem.sign * t.predicted, t.number)) if feasible else None


def least_violating(trials: Sequence[Trial]) -> Trial:
    """The trial closest to feasible (for an answer when no trial met the constraints)."""
    return min(trials, key=lambda t: (t.violation, t.number))

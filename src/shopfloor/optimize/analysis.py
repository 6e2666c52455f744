"""What the answer says around the optimum: how certain it is, the runner-ups, how sensitive the
outcome is to each control, where the constraints stand, and the gain over the present settings.

Every function evaluates the model in one batch (``outcome(records)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.optimize.problem import Control, Problem, point_at
from shopfloor.optimize.search import Outcome, Trial

#: Jittered settings drawn around the optimum; the first feasible JITTER_POINTS are scored.
JITTER_CANDIDATES = 256
JITTER_POINTS = 64
#: Fewer feasible jittered points than this: the spread is taken over all of them instead.
MIN_FEASIBLE_POINTS = 16
RUNNER_UPS = 3
#: A runner-up differs from every better answer by at least this fraction of some control's range.
DISTINCT = 0.05
#: Sensitivity: the outcome this fraction of the range either side of the optimum.
STEP = 0.05
CURVE_POINTS = 11


def _grid(problem: Problem, best: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    """``n`` copies of ``best``, column-wise, ready to be varied one control at a time."""
    return {c.name: np.array([best[c.name]] * n, dtype=object) for c in problem.controls}


def _feasible(problem: Problem, points: dict[str, np.ndarray]) -> np.ndarray:
    n = len(next(iter(points.values())))
    if not problem.constraints:
        return np.ones(n, dtype=bool)
    return np.asarray((problem.violations(points) <= 0).all(axis=0))


def _score(problem: Problem, outcome: Outcome, points: dict[str, np.ndarray], rows: Any) -> np.ndarray:
    return outcome([problem.record(point_at(points, j)) for j in rows])


def uncertainty(problem: Problem, outcome: Outcome, best: dict[str, Any]) -> dict[str, Any]:
    """The spread of the outcome when each continuous control moves up to ``tolerance`` of its range."""
    rng = np.random.default_rng(problem.seed)
    points = _grid(problem, best, JITTER_CANDIDATES)
    for c in problem.controls:
        if c.continuous:
            step = problem.tolerance * c.span
            moved = best[c.name] + rng.uniform(-step, step, JITTER_CANDIDATES)
            points[c.name] = np.clip(moved, c.low, c.high).astype(object)
    ok = np.flatnonzero(_feasible(problem, points))
    feasible_only = len(ok) >= MIN_FEASIBLE_POINTS
    rows = ok[:JITTER_POINTS] if feasible_only else np.arange(JITTER_POINTS)
    y = _score(problem, outcome, points, rows)
    return {
        "tolerance": problem.tolerance,
        "points": len(rows),
        "feasible_only": feasible_only,
        "mean": float(y.mean()),
        "std": float(y.std()),
        "p05": float(np.quantile(y, 0.05)),
        "p95": float(np.quantile(y, 0.95)),
        "min": float(y.min()),
        "max": float(y.max()),
    }


def _distinct(controls: Sequence[Control], a: dict[str, Any], b: dict[str, Any]) -> bool:
    for c in controls:
        if c.continuous and c.span > 0 and abs(a[c.name] - b[c.name]) >= DISTINCT * c.span:
            return True
        if not c.continuous and a[c.name] != b[c.name]:
            return True
    return False


def runner_ups(problem: Problem, trials: Sequence[Trial], best: Trial) -> list[dict[str, Any]]:
    """Up to RUNNER_UPS feasible trials, best first, each distinct from every better one kept."""
    ranked = sorted(
        (t for t in trials if t.feasible and t.number != best.number),
        key=lambda t: (problem.sign * t.predicted, t.number),
    )
    kept = [best]
    for t in ranked:
        if len(kept) > RUNNER_UPS:
            break
        if all(_distinct(problem.controls, t.settings, k.settings) for k in kept):
            kept.append(t)
    return [{"settings": t.settings, "predicted": t.predicted, "trial": t.number} for t in kept[1:]]


def sensitivity(problem: Problem, outcome: Outcome, best: dict[str, Any]) -> dict[str, Any]:
    """Per control: the outcome STEP of its range either side of the optimum, the slope per unit,
    and a curve across its range (its values for a choice) holding the other controls at the optimum."""
    out: dict[str, Any] = {}
    for c in problem.controls:
        if c.continuous:
            step = STEP * c.span
            low, high = max(c.low, best[c.name] - step), min(c.high, best[c.name] + step)
            xs = [low, high, *np.linspace(c.low, c.high, CURVE_POINTS).tolist()]
        else:
            xs = list(c.values)
        points = _grid(problem, best, len(xs))
        points[c.name] = np.array(xs, dtype=object)
        y = _score(problem, outcome, points, range(len(xs))).tolist()
        ok = _feasible(problem, points).tolist()
        first = 2 if c.continuous else 0
        entry: dict[str, Any] = {
            "curve": [
                {"at": x, "predicted": v, "feasible": bool(f)}
                for x, v, f in zip(xs[first:], y[first:], ok[first:], strict=True)
            ]
        }
        if c.continuous:
            entry["low"] = {"at": low, "predicted": y[0]}
            entry["high"] = {"at": high, "predicted": y[1]}
            entry["slope"] = (y[1] - y[0]) / (high - low) if high > low else None
        out[c.name] = entry
    return out


def constraint_values(problem: Problem, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Each constraint at ``settings``: its left side, slack (negative: violated) and whether it binds."""
    lhs = problem.lhs(settings)[:, 0]
    out = []
    for i, k in enumerate(problem.constraints):
        slack = float(k.slack(lhs[i]))
        entry = {"index": i, "constraint": k.text(), "op": k.op, "value": k.value, "lhs": float(lhs[i])}
        if k.op == "==":
            entry["tol"] = k.tol
        entry.update(slack=slack, satisfied=slack >= 0, active=abs(slack) <= 1e-3 * k.scale)
        out.append(entry)
    return out


def derived_values(problem: Problem, settings: dict[str, Any]) -> dict[str, float]:
    cols = problem.columns(settings)
    return {d.name: float(cols[d.name]) for d in problem.derived}


def current(problem: Problem, outcome: Outcome, best_predicted: float) -> dict[str, Any] | None:
    """The outcome at the present settings (``problem.current``) and the gain of the optimum over it
    (positive: the optimum is better in the direction of the objective)."""
    if problem.current is None:
        return None
    settings = dict(problem.current)
    record = problem.record(settings)
    predicted = float(outcome([record])[0])
    violated = [v["index"] for v in constraint_values(problem, settings) if not v["satisfied"]]
    gain = problem.sign * (predicted - best_predicted)
    return {
        "settings": settings,
        "record": record,
        "predicted": predicted,
        "feasible": not violated,
        "violated_constraints": violated,
        "improvement": gain,
        "improvement_pct": 100.0 * gain / abs(predicted) if predicted else None,
    }

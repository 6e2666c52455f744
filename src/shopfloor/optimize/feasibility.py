"""Whether any setting within the control bounds meets every constraint, decided before a search.

Constraints that are linear in the continuous controls (derived sums, products with at most one
control) go to a linear programme, which also gives the least violating setting. Others are
checked on quasi-random points of the control box, the least violating one polished afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopfloor.optimize.problem import Constraint, Problem, point_at

#: log2 of the quasi-random points checked when a constraint is not linear in the controls.
SAMPLES_LOG2 = 15
#: Feasible points handed to the search as its first trials, at most.
MAX_SEEDS = 8
Form = tuple[dict[str, float], float]  # coefficient per continuous control, constant


@dataclass(frozen=True)
class Feasibility:
    """Whether any setting within the bounds meets every constraint, and how that was decided."""

    feasible: bool
    method: str
    seeds: list[dict[str, Any]]  # feasible settings to start the search from
    reason: str = ""
    least_violation: dict[str, Any] | None = None


def check_feasible(problem: Problem) -> Feasibility:
    """Linear constraints: a linear programme decides. Otherwise ``2**SAMPLES_LOG2`` quasi-random
    points of the control box do; the least violating one is then polished to report by how much."""
    if not problem.constraints:
        return Feasibility(True, "no constraints", [])
    points = _sample(problem)
    viol = problem.violations(points)
    met = np.flatnonzero((viol <= 0).all(axis=0))
    seeds = [point_at(points, j) for j in met[:MAX_SEEDS]]
    forms = [_constraint_form(problem, k) for k in problem.constraints]
    if all(f is not None for f in forms):
        least, total = _least_violation_lp(problem, forms)  # type: ignore[arg-type]
        method, feasible = "linear programme over the control bounds", total <= 1e-9
        seeds = seeds or ([least] if feasible else [])
    else:
        method, feasible = f"{len(viol[0])} quasi-random points of the control box", bool(len(met))
        least = _polish(problem, point_at(points, int(np.argmin(viol.sum(axis=0)))))
    if feasible:
        return Feasibility(True, method, seeds)
    return Feasibility(
        False, method, [], _reason(problem, points, forms, least), violation_view(problem, least)
    )


def _sample(problem: Problem) -> dict[str, np.ndarray]:
    from scipy.stats import qmc

    u = qmc.Sobol(len(problem.controls), scramble=True, seed=problem.seed).random_base2(SAMPLES_LOG2)
    points: dict[str, np.ndarray] = {}
    for j, c in enumerate(problem.controls):
        if c.continuous:
            points[c.name] = c.low + u[:, j] * c.span
        else:
            idx = np.minimum((u[:, j] * len(c.values)).astype(int), len(c.values) - 1)
            points[c.name] = np.array(c.values, dtype=object)[idx]
    return points


def _feature_form(problem: Problem, name: str) -> Form | None:
    """``name`` as an affine function of the continuous controls, or None if it is not one."""
    control = next((c for c in problem.controls if c.name == name), None)
    if control is not None:
        return ({name: 1.0}, 0.0) if control.continuous else None
    if name in problem.fixed:
        return {}, float(problem.fixed[name])
    d = next(d for d in problem.derived if d.name == name)
    if d.product:
        coef: dict[str, float] = {}
        const = d.scale
        for f in d.product:
            form = _feature_form(problem, f)
            if form is None or (form[0] and coef):
                return None
            coef = (
                {k: v * const for k, v in form[0].items()}
                if form[0]
                else {k: v * form[1] for k, v in coef.items()}
            )
            const *= form[1]
        return coef, const
    return _combine(problem, d.terms, d.scale)


def _combine(problem: Problem, terms: tuple[tuple[str, float], ...], scale: float) -> Form | None:
    coef: dict[str, float] = {}
    const = 0.0
    for f, c in terms:
        form = _feature_form(problem, f)
        if form is None:
            return None
        for k, v in form[0].items():
            coef[k] = coef.get(k, 0.0) + scale * c * v
        const += scale * c * form[1]
    return coef, const


def _constraint_form(problem: Problem, k: Constraint) -> Form | None:
    return _combine(problem, k.terms, 1.0)


def _least_violation_lp(problem: Problem, forms: list[Form]) -> tuple[dict[str, Any], float]:
    """Minimise the sum of relative violations (slacks) over the box: 0 means feasible."""
    from scipy.optimize import linprog

    cont = [c for c in problem.controls if c.continuous]
    m, k = len(cont), len(forms)
    rows, rhs = [], []
    for i, (kc, (coef, const)) in enumerate(zip(problem.constraints, forms, strict=True)):
        a = np.array([coef.get(c.name, 0.0) for c in cont]) / kc.scale
        s = np.zeros(k)
        s[i] = -1.0
        lo, hi = (kc.value - kc.tol - const) / kc.scale, (kc.value + kc.tol - const) / kc.scale
        if kc.op in ("<=", "=="):
            rows.append(np.concatenate([a, s]))
            rhs.append(hi)
        if kc.op in (">=", "=="):
            rows.append(np.concatenate([-a, s]))
            rhs.append(-lo)
    bounds = [(c.low, c.high) for c in cont] + [(0, None)] * k
    res = linprog(
        np.concatenate([np.zeros(m), np.ones(k)]),
        A_ub=np.array(rows),
        b_ub=rhs,
        bounds=bounds,
        method="highs",
    )
    x = res.x[:m] if res.status == 0 else np.array([c.low for c in cont])
    settings = {c.name: c.values[0] for c in problem.controls if not c.continuous}
    settings.update({c.name: float(v) for c, v in zip(cont, x, strict=True)})
    return settings, float(res.fun) if res.status == 0 else math.inf


def _polish(problem: Problem, start: dict[str, Any]) -> dict[str, Any]:
    """Move the continuous controls of ``start`` to reduce the total violation (derivative-free)."""
    from scipy.optimize import minimize

    cont = [c for c in problem.controls if c.continuous and c.span > 0]
    if not cont:
        return start

    def total(x: np.ndarray) -> float:
        return float(problem.violations({**start, **dict(zip([c.name for c in cont], x, strict=True))}).sum())

    res = minimize(
        total,
        [start[c.name] for c in cont],
        method="Powell",
        bounds=[(c.low, c.high) for c in cont],
        options={"maxfev": 2000, "xtol": 1e-6},
    )
    better = res.fun < total(np.array([start[c.name] for c in cont]))
    return {**start, **{c.name: float(v) for c, v in zip(cont, res.x, strict=True)}} if better else start


def _reason(
    problem: Problem, points: Mapping[str, np.ndarray], forms: list[Form | None], least: dict[str, Any]
) -> str:
    """Name a constraint that no setting meets on its own, else the ones the least violation misses."""
    sampled = problem.lhs(points)
    for i, (k, form) in enumerate(zip(problem.constraints, forms, strict=True)):
        if form is not None:
            coef, const = form
            spans = [
                (coef.get(c.name, 0.0) * c.low, coef.get(c.name, 0.0) * c.high)
                for c in problem.controls
                if c.continuous
            ]
            lo, hi = const + sum(min(s) for s in spans), const + sum(max(s) for s in spans)
        else:  # the polished least violation may reach past the sampled extremes
            reach = float(problem.lhs(least)[i, 0])
            lo, hi = min(float(sampled[i].min()), reach), max(float(sampled[i].max()), reach)
        head = f"constraint {i} ({k.text()}) cannot be met within the control bounds"
        if k.op == ">=" and hi < k.value:
            return f"{head}: it reaches at most {hi:g}"
        if k.op == "<=" and lo > k.value:
            return f"{head}: it is at least {lo:g}"
        if k.op == "==" and (hi < k.value - k.tol or lo > k.value + k.tol):
            return f"{head}: it ranges from {lo:g} to {hi:g}"
    missed = [
        f"{v['index']} ({v['constraint']}) by {v['by']:g}"
        for v in violation_view(problem, least)["violations"]
    ]
    return (
        "the constraints cannot all be met together within the control bounds; the least violating "
        f"setting misses constraint {', '.join(missed) or 'none (on a boundary)'}"
    )


def violation_view(problem: Problem, settings: dict[str, Any]) -> dict[str, Any]:
    """The controls of ``settings`` and each constraint they miss, with by how much."""
    lhs = problem.lhs(settings)[:, 0]
    out = []
    for i, k in enumerate(problem.constraints):
        by = max(0.0, -float(k.slack(lhs[i])))
        if by > 0:
            out.append({"index": i, "constraint": k.text(), "lhs": float(lhs[i]), "by": by})
    return {"settings": {c.name: settings[c.name] for c in problem.controls}, "violations": out}

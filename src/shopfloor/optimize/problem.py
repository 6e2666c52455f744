"""An optimisation request, checked against a model's inputs: controls, fixed values, derived
features and linear constraints (whether they can be met is :mod:`.feasibility`'s job).

:func:`parse` turns the request into a :class:`Problem` or raises one
:class:`~shopfloor.errors.InvalidInput` listing every problem with its place in the body.
Features are evaluated column-wise (numpy arrays), so one call checks thousands of settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput

MAX_TRIALS = 5000
DEFAULT_TRIALS = 200
SAMPLERS = ("tpe", "cmaes")
OBJECTIVES = ("minimize", "maximize")
OPS = ("<=", ">=", "==")
#: Default band of an equality constraint, as a fraction of max(|value|, 1).
EQUALITY_TOL = 0.01
#: Default jitter for the uncertainty of the answer, as a fraction of each control's range.
DEFAULT_TOLERANCE = 0.01

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class Control:
    """A setting the search may move: a numeric range ``[low, high]`` or a list of ``values``."""

    name: str
    low: float = 0.0
    high: float = 0.0
    values: tuple[Any, ...] = ()

    @property
    def continuous(self) -> bool:
        return not self.values

    @property
    def span(self) -> float:
        """The width of the range (of the numeric values for a choice; 0 for categories)."""
        if self.continuous:
            return self.high - self.low
        nums = [float(v) for v in self.values if _is_number(v)]
        return max(nums) - min(nums) if nums else 0.0


@dataclass(frozen=True)
class Derived:
    """``scale * product(features)`` or ``scale * sum(coefficient * feature)``."""

    name: str
    product: tuple[str, ...] = ()
    terms: tuple[tuple[str, float], ...] = ()
    scale: float = 1.0


@dataclass(frozen=True)
class Constraint:
    """``sum(coefficient * feature) op value``; ``==`` holds within ``tol``."""

    terms: tuple[tuple[str, float], ...]
    op: str
    value: float
    tol: float = 0.0

    def text(self) -> str:
        lhs = " + ".join(name if c == 1 else f"{c:g}*{name}" for name, c in self.terms)
        return f"{lhs} {self.op} {self.value:g}"

    def slack(self, lhs: np.ndarray) -> np.ndarray:
        """How far each value is inside the constraint (negative: violated by that much)."""
        if self.op == "<=":
            return self.value - lhs
        if self.op == ">=":
            return lhs - self.value
        return self.tol - np.abs(lhs - self.value)

    @property
    def scale(self) -> float:
        return max(abs(self.value), self.tol, 1.0)


@dataclass(frozen=True)
class Problem:
    controls: tuple[Control, ...]
    fixed: dict[str, Any]
    derived: tuple[Derived, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    objective: str = "minimize"
    output: str | None = None  # the class whose probability is optimised; None: a regression value
    current: dict[str, Any] | None = None
    trials: int = DEFAULT_TRIALS
    sampler: str = "tpe"
    seed: int = 0
    tolerance: float = DEFAULT_TOLERANCE
    numeric: frozenset[str] = field(default_factory=frozenset)  # numeric input features

    @property
    def sign(self) -> float:
        """Multiplies the outcome so that smaller is always better."""
        return 1.0 if self.objective == "minimize" else -1.0

    def record(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The full model input for ``settings`` of the controls."""
        return {**self.fixed, **settings}

    def columns(self, settings: Mapping[str, Any]) -> Columns:
        """Numeric features and derived features for settings given as scalars or equal-length arrays."""
        cols: Columns = {n: np.asarray(v, dtype=float) for n, v in self.fixed.items() if n in self.numeric}
        for c in self.controls:
            if c.name in self.numeric:
                cols[c.name] = np.asarray(settings[c.name], dtype=float)
        for d in self.derived:
            if d.product:
                value = np.prod(np.broadcast_arrays(*(cols[f] for f in d.product)), axis=0)
            else:
                value = sum((c * cols[f] for f, c in d.terms), np.zeros(()))
            cols[d.name] = d.scale * value
        return cols

    def lhs(self, settings: Mapping[str, Any]) -> np.ndarray:
        """Left-hand sides, one row per constraint (shape ``(constraints, points)``)."""
        cols = self.columns(settings)
        n = max((np.size(v) for v in settings.values()), default=1)
        rows = [sum((c * cols[f] for f, c in k.terms), np.zeros(n)) for k in self.constraints]
        return np.array(rows, dtype=float).reshape(len(self.constraints), n)

    def violations(self, settings: Mapping[str, Any]) -> np.ndarray:
        """Per constraint and point, the violation relative to the constraint's scale (0: met)."""
        lhs = self.lhs(settings)
        out = np.zeros_like(lhs)
        for i, k in enumerate(self.constraints):
            out[i] = np.maximum(0.0, -k.slack(lhs[i])) / k.scale
        return out


def point_at(points: Mapping[str, np.ndarray], j: int) -> dict[str, Any]:
    """Setting ``j`` of column-wise ``points`` as plain Python values."""
    return {n: (v[j].item() if hasattr(v[j], "item") else v[j]) for n, v in points.items()}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class _Errors(list[dict[str, Any]]):
    def add(self, loc: list[Any], msg: str) -> None:
        self.append({"loc": ["body", *loc], "msg": msg})


def parse(
    request: Mapping[str, Any],
    schema: list[dict[str, Any]],
    classes: list[str] | None,
    default_class: str | None,
) -> Problem:
    """Check ``request`` against the model's ``schema`` and build the :class:`Problem`.

    ``classes`` are the class keys of a classifier (None for regression); ``default_class``
    is the one optimised when the request names no ``output``.
    Raises :class:`InvalidInput` with every error found (``loc`` under ``body``).
    """
    errors = _Errors()
    types = {str(c["name"]): str(c.get("type")) for c in schema}
    cats = {str(c["name"]): [str(v) for v in c.get("categories") or ()] for c in schema}
    numeric = frozenset(n for n, t in types.items() if t == "numeric")
    raw_controls = request.get("controls") or {}
    if not raw_controls:
        errors.add(["controls"], "give at least one control with its bounds")
    controls = [c for n, spec in raw_controls.items() if (c := _control(n, spec, types, cats, errors))]
    fixed = dict(request.get("fixed") or {})
    for name in fixed:
        if name not in types:
            errors.add(["fixed", name], f"unknown feature {name!r}: not an input of the model")
        elif name in raw_controls:
            errors.add(["fixed", name], f"{name!r} is a control; it cannot also be fixed")
    for name in types:
        if name not in raw_controls and name not in fixed:
            errors.add(["fixed", name], f"input {name!r} is neither controlled nor fixed")
    known = {n for n in numeric if n in raw_controls or _is_number(fixed.get(n))}
    derived = _derived(request.get("derived") or {}, known, types, errors)
    usable = known | {d.name for d in derived}
    constraints = [_constraint(i, k, usable, errors) for i, k in enumerate(request.get("constraints") or [])]
    objective = request.get("objective", "minimize")
    if objective not in OBJECTIVES:
        errors.add(["objective"], f"objective must be one of {', '.join(OBJECTIVES)}")
    output = request.get("output")
    if classes is None and output not in (None, "value"):
        errors.add(["output"], "a regression model has one output, its value: leave 'output' out")
    elif classes is not None:
        output = default_class if output is None else str(output)
        if output not in classes:
            errors.add(["output"], f"unknown class {output!r}; the model's classes are {classes}")
    trials = request.get("trials", DEFAULT_TRIALS)
    if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= MAX_TRIALS:
        errors.add(["trials"], f"trials must be a whole number from 1 to {MAX_TRIALS}")
    sampler = request.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        errors.add(["sampler"], f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    tolerance = request.get("tolerance")
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    if not _is_number(tolerance) or not 0 < tolerance <= 0.5:
        errors.add(["tolerance"], "tolerance is a fraction of each control's range, above 0 and at most 0.5")
    current = request.get("current")
    if current is not None:
        _check_current(current, raw_controls, types, errors)
    if errors:
        first = errors[0]
        more = f" ({len(errors)} problems in all)" if len(errors) > 1 else ""
        where = ".".join(str(p) for p in first["loc"][1:])
        raise InvalidInput(
            f"the optimisation request is not valid: {where}: {first['msg']}{more}", errors=errors
        )
    return Problem(
        controls=tuple(c for c in controls if c is not None),
        fixed=fixed,
        derived=tuple(derived),
        constraints=tuple(constraints),
        objective=objective,
        output=output if classes is not None else None,
        current=dict(current) if current is not None else None,
        trials=int(trials),
        sampler=sampler,
        seed=int(request.get("seed") or 0),
        tolerance=float(tolerance),
        numeric=numeric,
    )


def _control(
    name: str, spec: Any, types: dict[str, str], cats: dict[str, list[str]], errors: _Errors
) -> Control | None:
    loc = ["controls", name]
    if name not in types:
        errors.add(loc, f"unknown feature {name!r}: not an input of the model")
        return None
    spec = dict(spec or {})
    values, kind = spec.get("values"), types[name]
    if values is not None:
        if not isinstance(values, list) or not values:
            errors.add([*loc, "values"], "values must be a non-empty list")
            return None
        bad = [v for v in values if not _fits(v, kind, cats[name])]
        if bad:
            known = f"; known categories: {cats[name]}" if kind == "categorical" else ""
            errors.add([*loc, "values"], f"values not valid for a {kind} input: {bad[:5]}{known}")
            return None
        return Control(name, values=tuple(dict.fromkeys(values)))
    if kind != "numeric":
        errors.add(loc, f"{name!r} is a {kind} input: give its 'values' to choose from, not min and max")
        return None
    low, high = spec.get("min"), spec.get("max")
    for key, v in (("min", low), ("max", high)):
        if not _is_number(v):
            errors.add([*loc, key], f"{key} must be a finite number")
    if not (_is_number(low) and _is_number(high)):
        return None
    if low > high:
        errors.add([*loc, "min"], f"min ({low:g}) is above max ({high:g})")
        return None
    return Control(name, low=float(low), high=float(high))


def _fits(v: Any, kind: str, categories: list[str]) -> bool:
    if kind == "numeric":
        return _is_number(v)
    if kind == "boolean":
        return v in (True, False, 0, 1) or str(v) in categories
    if kind == "categorical":
        return isinstance(v, str | int | float) and not isinstance(v, bool) and str(v) in categories
    return False


def _derived(
    raw: Mapping[str, Any], known: set[str], types: dict[str, str], errors: _Errors
) -> list[Derived]:
    out: list[Derived] = []
    usable = set(known)
    for name, spec in raw.items():
        loc, spec = ["derived", name], dict(spec or {})
        if name in types:
            errors.add(loc, f"{name!r} is an input of the model; give the derived feature another name")
            continue
        product, terms = spec.get("product"), spec.get("sum")
        if (product is None) == (terms is None):
            errors.add(
                loc, "give exactly one of 'product' (a list of features) or 'sum' (feature -> coefficient)"
            )
            continue
        key = "product" if product is not None else "sum"
        given = dict.fromkeys(terms, 1.0) if isinstance(terms, list) else terms if product is None else None
        names = list(product) if isinstance(product, list) else list(given) if isinstance(given, dict) else []
        if not names:
            errors.add([*loc, key], f"'{key}' needs a non-empty list (or, for a sum, feature -> coefficient)")
            continue
        bad = [f for f in names if f not in usable]
        for f in bad:
            why = "not a numeric input" if f in types else "unknown feature"
            errors.add(
                [*loc, key, f],
                f"{why} {f!r}: derived features use numeric inputs (controlled or fixed to a number) "
                "and earlier derived features",
            )
        coefs = list(given.values()) if isinstance(given, dict) else []
        scale = spec.get("scale", 1.0)
        if not _is_number(scale) or not all(_is_number(c) for c in coefs):
            errors.add(loc, "scale and coefficients must be finite numbers")
        elif not bad:
            pairs = tuple(zip(names, map(float, coefs), strict=True)) if given is not None else ()
            out.append(Derived(name, tuple(names) if given is None else (), pairs, float(scale)))
            usable.add(name)
    return out


def _constraint(i: int, raw: Any, usable: set[str], errors: _Errors) -> Constraint:
    raw = dict(raw or {})
    terms, op, value, tol = raw.get("terms") or {}, raw.get("op"), raw.get("value"), raw.get("tol")
    if not terms:
        errors.add(["constraints", i, "terms"], "give at least one term (feature -> coefficient)")
    for name, c in terms.items():
        if name not in usable:
            errors.add(
                ["constraints", i, "terms", name],
                f"unknown feature {name!r}: constraints use numeric controls, numeric fixed inputs "
                "or derived features",
            )
        elif not _is_number(c):
            errors.add(["constraints", i, "terms", name], "coefficients must be finite numbers")
    if op not in OPS:
        errors.add(["constraints", i, "op"], f"unknown op {op!r}; use one of {', '.join(OPS)}")
    if not _is_number(value):
        errors.add(["constraints", i, "value"], "value must be a finite number")
        value = 0.0
    if tol is not None and (not _is_number(tol) or tol < 0):
        errors.add(["constraints", i, "tol"], "tol must be a number of at least 0")
    band = EQUALITY_TOL * max(abs(value), 1.0) if tol is None else float(tol)
    return Constraint(
        tuple((n, float(c)) for n, c in terms.items() if _is_number(c)),
        str(op),
        float(value),
        band if op == "==" else 0.0,
    )


def _check_current(current: Any, controls: Mapping[str, Any], types: dict[str, str], errors: _Errors) -> None:
    if not isinstance(current, Mapping):
        errors.add(["current"], "current must map each control to its present value")
        return
    for name, v in current.items():
        if name not in controls:
            errors.add(
                ["current", name], f"{name!r} is not a control; 'current' gives the controls' present values"
            )
        elif types.get(name) == "numeric" and not _is_number(v):
            errors.add(["current", name], "expected a finite number")
    for name in controls:
        if name not in current:
            errors.add(["current", name], f"give the present value of control {name!r}")

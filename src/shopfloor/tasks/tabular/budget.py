"""The time budget of one tabular fit: step deadlines, what was cut, and input screening.

A fit must end near ``time_budget_s`` whatever the table's shape. Each long step checks a
deadline derived from the budget (:class:`Budget`) and, when it stops early, records a *cut*
(fewer candidates, folds, stability splits, surrogate depths, screened inputs) that the fit
report lists under ``budget``. The steps that always run once (the first candidate, the final
refit, the rules) are the documented overhead past the budget.

Very wide tables (hundreds or thousands of columns, e.g. raw vibration windows) are first
screened: one fast LightGBM on a row sample ranks the input columns by gain (ties by a
univariate score) and only the best :func:`keep_count` go on to the search.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: screening starts above this many model-matrix columns (numerics, booleans, one-hot levels)
SCREEN_ABOVE = 200
#: the screen's row sample holds at most this many cells (rows x columns), and at least 1,000 rows
SCREEN_CELLS = 10_000_000
_SCREEN_PARAMS = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "n_estimators": 60,
    "min_data_in_leaf": 5,
    "feature_fraction": 1.0,
    "max_bin": 63,
}


@dataclass
class Budget:
    """Deadlines inside one fit of ``seconds``, from ``start`` (a ``time.perf_counter`` value)."""

    seconds: float
    start: float = field(default_factory=time.perf_counter)
    cuts: list[dict[str, str]] = field(default_factory=list)

    @property
    def end(self) -> float:
        return self.start + self.seconds

    def at(self, fraction: float) -> float:
        """The instant ``fraction`` of the whole budget after the start."""
        return self.start + fraction * self.seconds

    def cut(self, step: str, message: str) -> None:
        """Record that ``step`` did less than it would with time to spare."""
        logger.info("time budget: %s: %s", step, message)
        self.cuts.append({"step": step, "message": message})

    def report(self) -> dict[str, Any]:
        used = time.perf_counter() - self.start
        return {
            "seconds": self.seconds,
            "used_seconds": round(used, 3),
            "over_seconds": round(max(0.0, used - self.seconds), 3),
            "cuts": list(self.cuts),
        }


def keep_count(budget_s: float) -> int:
    """How many input columns a screened table keeps: about one per second of budget, 100 to 500."""
    return int(min(500, max(100, budget_s)))


def screen_inputs(
    enc: np.ndarray,
    pre: Any,
    y: np.ndarray,
    kind: str,
    n_classes: int,
    seed: int,
    keep: int,
    deadline: float | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """The ``keep`` most useful input columns of an encoded training matrix, and the screen's report.

    ``pre`` is the fitted :class:`~shopfloor.tasks.tabular.features.Preprocessor` of ``enc``.
    Rows are sampled so that the sample holds at most :data:`SCREEN_CELLS` cells; the gains of
    a column's one-hot levels add up to the column; the booster adds no tree after ``deadline``.
    Returns the kept names in their table order
    and ``{"method", "inputs", "kept", "rows", "screened_out"}``.
    """
    from shopfloor.tasks.tabular.models import make_model

    columns = pre.columns()
    rng = np.random.default_rng(seed)
    n_rows = min(len(enc), max(1000, SCREEN_CELLS // max(len(columns), 1)))
    rows = np.arange(len(enc))
    if n_rows < len(enc):
        rows = np.sort(rng.choice(len(enc), size=n_rows, replace=False))
    X, ys = pre.expand(enc[rows]), y[rows]
    model = make_model("lightgbm", kind, n_classes, _SCREEN_PARAMS, seed).fit(X, ys, deadline)
    booster: Any = model.booster_  # type: ignore[attr-defined]
    gain = np.asarray(booster.feature_importance("gain"), dtype=np.float64)
    uni = _univariate(X, ys, kind)
    pos = {name: i for i, name in enumerate(pre.inputs)}
    by_gain, by_uni = np.zeros(len(pos)), np.zeros(len(pos))
    for k, col in enumerate(columns):
        j = pos[col["sources"][0]]
        by_gain[j] += gain[k]
        by_uni[j] = max(by_uni[j], uni[k])
    order = np.lexsort((-by_uni, -by_gain))  # gain first, the univariate score breaks ties
    chosen = set(order[:keep].tolist())
    kept = [name for name in pre.inputs if pos[name] in chosen]
    report = {
        "method": f"LightGBM gain ({_SCREEN_PARAMS['n_estimators']} trees) on {len(rows)} training rows, "
        "ties broken by a univariate score; the best kept",
        "inputs": len(pre.inputs),
        "kept": len(kept),
        "rows": int(len(rows)),
        "screened_out": [name for name in pre.inputs if pos[name] not in chosen],
    }
    return kept, report


def _univariate(X: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    """Per column: the ANOVA F statistic (classification) or the absolute correlation (regression)."""
    if kind == "classification":
        from sklearn.feature_selection import f_classif

        with np.errstate(divide="ignore", invalid="ignore"):
            f, _ = f_classif(X, y)
        return np.nan_to_num(np.asarray(f, dtype=float))
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    denom = np.sqrt((Xc**2).sum(axis=0) * (yc**2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(Xc.T @ yc) / denom
    return np.nan_to_num(np.asarray(r, dtype=float))


def restrict(types: Mapping[str, str], kept: list[str]) -> dict[str, str]:
    """``types`` limited to ``kept`` (table order preserved)."""
    wanted = set(kept)
    return {name: kind for name, kind in types.items() if name in wanted}

"""Tabular preprocessing and automatic feature construction, with JSON-serialisable state.

Two matrices exist. The *input* matrix has one float column per input column
(numeric value, boolean 0/1, or category code: index into the learned categories,
``-1`` for an unseen category, NaN for missing). :meth:`Preprocessor.expand` turns it
into the *model* matrix: imputed numerics, booleans, constructed features (pair
differences, products, ratios) and one-hot columns (an unseen category is all zeros).
Every model-matrix column records which input columns it came from, so explanations
can be attributed back to inputs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidInput
from shopfloor.parallel import SKIPPED, deadline, fan_out, on_cluster
from shopfloor.tasks.tabular.budget import Budget
from shopfloor.tasks.tabular.models import candidate_grid, make_model

logger = logging.getLogger(__name__)

USED_TYPES = ("numeric", "boolean", "categorical")
DROPPED_TYPES = ("id", "text", "datetime")
MAX_CATEGORIES = 50
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
OPS = {"diff": "-", "product": "*", "ratio": "/"}
#: above this many training cells (rows x inputs) cross-validation uses 3 folds whatever the budget
LARGE_CELLS = 20_000_000


def infer_column_types(
    frame: pd.DataFrame, target: str, given: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Type every non-target column; return ``(used {name: type}, dropped [{name, reason}])``.

    ``given`` (the platform's inferred types) wins where present. Otherwise: numeric
    dtype -> numeric, bool -> boolean, datetime dtype -> datetime, object with more
    than half of its non-missing values unique (and over 20 of them) -> id, else categorical.
    """
    used: dict[str, str] = {}
    dropped: list[dict[str, str]] = []
    for col in frame.columns:
        if col == target:
            continue
        kind = (given or {}).get(col) or _infer_one(frame[col])
        if kind in DROPPED_TYPES:
            dropped.append({"name": col, "reason": f"column typed {kind} is not used by tabular models"})
        elif kind not in USED_TYPES:
            raise InvalidInput(f"unknown column type {kind!r} for column {col!r}")
        elif frame[col].isna().all():
            dropped.append({"name": col, "reason": "column is entirely missing"})
        elif frame[col].nunique(dropna=True) < 2:
            dropped.append({"name": col, "reason": "column has a single value"})
        else:
            used[col] = kind
    return used, dropped


def _infer_one(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    values = series.dropna()
    unique = values.nunique()
    if unique > 20 and unique > 0.5 * len(values):  # few distinct values are never an id
        return "id"
    return "categorical"


def _to_bool(value: Any) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, bool | np.bool_):
        return 1.0 if value else 0.0
    if isinstance(value, int | float | np.number):
        return 1.0 if value else 0.0
    text = str(value).strip().lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    return math.nan


def _to_float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def construct(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One constructed feature from two (imputed) numeric columns."""
    if op == "diff":
        return a - b
    if op == "product":
        return a * b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    return np.where(np.isfinite(out), out, 0.0)


def _construct_scalar(op: str, a: float, b: float) -> float:
    if op == "diff":
        return a - b
    if op == "product":
        return a * b
    return a / b if b != 0 else 0.0


def feature_name(op: str, a: str, b: str) -> str:
    return f"{a} {OPS[op]} {b}"


@dataclass
class Preprocessor:
    """Learned preprocessing state (medians, modes, categories, constructed features)."""

    numeric: list[str] = field(default_factory=list)
    medians: list[float] = field(default_factory=list)
    boolean: list[str] = field(default_factory=list)
    bool_fill: list[float] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    cat_fill: list[int] = field(default_factory=list)
    constructed: list[dict[str, Any]] = field(default_factory=list)

    # ----- fitting -----------------------------------------------------------------
    @classmethod
    def fit(cls, frame: pd.DataFrame, types: Mapping[str, str]) -> Preprocessor:
        """Learn imputation values and categories from ``frame`` (training rows only)."""
        pre = cls()
        for col, kind in types.items():
            s = frame[col]
            if kind == "numeric":
                med = pd.to_numeric(s, errors="coerce").median()
                pre.numeric.append(col)
                pre.medians.append(float(med) if pd.notna(med) else 0.0)
            elif kind == "boolean":
                b = np.array([_to_bool(v) for v in s], dtype=float)
                pre.boolean.append(col)
                pre.bool_fill.append(float(np.nanmean(b) >= 0.5) if np.isfinite(b).any() else 0.0)
            else:
                text = s.dropna().astype(str)
                counts = text.value_counts()
                cats = [str(c) for c in counts.index[:MAX_CATEGORIES]]
                pre.categorical.append(col)
                pre.categories.append(cats)
                pre.cat_fill.append(0)  # most frequent (value_counts is sorted)
        return pre

    def with_constructed(self, constructed: list[dict[str, Any]]) -> Preprocessor:
        return Preprocessor(**{**self.to_json(), "constructed": list(constructed)})

    # ----- layout ------------------------------------------------------------------
    @property
    def inputs(self) -> list[str]:
        return self.numeric + self.boolean + self.categorical

    def input_schema(self) -> list[dict[str, Any]]:
        schema: list[dict[str, Any]] = [{"name": c, "type": "numeric"} for c in self.numeric]
        schema += [{"name": c, "type": "boolean"} for c in self.boolean]
        schema += [
            {"name": c, "type": "categorical", "categories": list(cats)}
            for c, cats in zip(self.categorical, self.categories, strict=True)
        ]
        return schema

    def columns(self) -> list[dict[str, Any]]:
        """Model-matrix columns in order: ``{"name", "sources": [input columns], "kind"}``."""
        cols = [{"name": c, "sources": [c], "kind": "numeric"} for c in self.numeric]
        cols += [{"name": c, "sources": [c], "kind": "boolean"} for c in self.boolean]
        cols += [
            {"name": f["name"], "sources": list(f["sources"]), "kind": "constructed"}
            for f in self.constructed
        ]
        for col, cats in zip(self.categorical, self.categories, strict=True):
            cols += [{"name": f"{col} = {cat}", "sources": [col], "kind": "onehot"} for cat in cats]
        return cols

    @property
    def n_columns(self) -> int:
        return len(self.numeric) + len(self.boolean) + len(self.constructed) + sum(map(len, self.categories))

    # ----- frames ------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The input matrix for a frame (missing input columns are all-missing)."""
        n = len(frame)
        out = np.full((n, len(self.inputs)), np.nan)
        j = 0
        for col in self.numeric:
            if col in frame:
                out[:, j] = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            j += 1
        for col in self.boolean:
            if col in frame:
                out[:, j] = [_to_bool(v) for v in frame[col]]
            j += 1
        for col, cats in zip(self.categorical, self.categories, strict=True):
            if col in frame:
                s = frame[col]
                codes = pd.Categorical(s.astype(str), categories=cats).codes.astype(float)
                codes[s.isna().to_numpy()] = np.nan
                out[:, j] = codes
            j += 1
        return out

    def expand(self, enc: np.ndarray) -> np.ndarray:
        """Input matrix -> model matrix (imputation, constructed features, one-hot)."""
        n = enc.shape[0]
        n_num, n_bool = len(self.numeric), len(self.boolean)
        num = enc[:, :n_num].copy()
        for j, med in enumerate(self.medians):
            num[np.isnan(num[:, j]), j] = med
        boo = enc[:, n_num : n_num + n_bool].copy()
        for j, fill in enumerate(self.bool_fill):
            boo[np.isnan(boo[:, j]), j] = fill
        pos = {c: i for i, c in enumerate(self.numeric)}
        cons = np.empty((n, len(self.constructed)))
        for j, f in enumerate(self.constructed):
            a, b = f["sources"]
            cons[:, j] = construct(f["op"], num[:, pos[a]], num[:, pos[b]])
        blocks = [num, boo, cons]
        for j, cats in enumerate(self.categories):
            codes = enc[:, n_num + n_bool + j].copy()
            codes[np.isnan(codes)] = self.cat_fill[j]
            onehot = np.zeros((n, len(cats)))
            seen = codes >= 0
            onehot[np.flatnonzero(seen), codes[seen].astype(int)] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.empty((n, 0))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.expand(self.encode(frame))

    def unseen_warnings(self, frame: pd.DataFrame, enc: np.ndarray) -> list[str]:
        """One warning per categorical column that holds categories never seen in training."""
        out = []
        base = len(self.numeric) + len(self.boolean)
        for j, col in enumerate(self.categorical):
            bad = enc[:, base + j] == -1
            if bad.any() and col in frame:
                values = sorted({str(v) for v in frame.loc[bad, col]})[:5]
                out.append(f"column {col!r}: unseen categories {values} treated as missing/other")
        return out

    # ----- single records (the serving hot path: no pandas) ------------------------
    def record_row(self, record: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
        """The model-matrix row for one record, and its warnings."""
        row: list[float] = []
        warnings: list[str] = []
        get = record.get
        for col, med in zip(self.numeric, self.medians, strict=True):
            v = get(col)
            x = _to_float(v) if v is not None else math.nan
            if x != x:  # NaN
                if v is not None and v != "":
                    warnings.append(f"column {col!r}: value {v!r} is not a number; imputed")
                x = med
            row.append(x)
        for col, fill in zip(self.boolean, self.bool_fill, strict=True):
            x = _to_bool(get(col))
            row.append(fill if x != x else x)
        if self.constructed:
            num = dict(zip(self.numeric, row, strict=False))
            for f in self.constructed:
                a, b = f["sources"]
                row.append(_construct_scalar(f["op"], num[a], num[b]))
        for col, cats, fill in zip(self.categorical, self.categories, self.cat_fill, strict=True):
            v = get(col)
            onehot = [0.0] * len(cats)
            if v is None or (isinstance(v, float) and v != v):
                onehot[fill] = 1.0
            else:
                try:
                    onehot[cats.index(str(v))] = 1.0
                except ValueError:
                    warnings.append(f"column {col!r}: unseen category {str(v)!r} treated as missing/other")
            row.extend(onehot)
        return np.array(row, dtype=float), warnings

    # ----- persistence ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "medians": list(self.medians),
            "boolean": list(self.boolean),
            "bool_fill": list(self.bool_fill),
            "categorical": list(self.categorical),
            "categories": [list(c) for c in self.categories],
            "cat_fill": list(self.cat_fill),
            "constructed": [dict(f) for f in self.constructed],
        }

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> Preprocessor:
        return cls(**{k: state[k] for k in cls().to_json()})


def candidate_features(numeric: list[str], max_columns: int = 12) -> list[dict[str, Any]]:
    """Every pair difference, product and ratio (both directions) of the first ``max_columns`` numerics."""
    cols = numeric[:max_columns]
    out: list[dict[str, Any]] = []
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            out.append({"name": feature_name("diff", a, b), "op": "diff", "sources": [a, b]})
            out.append({"name": feature_name("product", a, b), "op": "product", "sources": [a, b]})
            out.append({"name": feature_name("ratio", a, b), "op": "ratio", "sources": [a, b]})
            out.append({"name": feature_name("ratio", b, a), "op": "ratio", "sources": [b, a]})
    return out


def search_features(
    candidates: list[dict[str, Any]],
    rank: list[float],
    cv_loss: Any,
    *,
    max_tries: int = 10,
    max_keep: int = 5,
    min_gain: float = 0.01,
    out_of_time: Any = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Greedy forward selection of constructed features, confirmed by cross-validation.

    ``rank`` is a cheap screening score per candidate (higher first, e.g. LightGBM gain
    with every candidate present); the ``max_tries`` best are tried in that order and a
    candidate is kept when ``cv_loss(kept + [candidate])`` (lower is better) beats the
    current loss by at least ``min_gain`` (relative). Stops after ``max_keep`` features or
    when ``out_of_time()`` says so. Returns ``(kept, trials)``; trials record each
    candidate's loss for the report.
    """
    order = sorted(range(len(candidates)), key=lambda i: -rank[i])[:max_tries]
    kept: list[dict[str, Any]] = []
    best = float(cv_loss([]))
    trials: list[dict[str, Any]] = [{"features": [], "cv_loss": best}]
    for i in order:
        if len(kept) >= max_keep or (out_of_time is not None and out_of_time()):
            break
        cand = candidates[i]
        if any(set(k["sources"]) == set(cand["sources"]) and k["op"] == cand["op"] == "diff" for k in kept):
            continue
        loss = float(cv_loss([*kept, cand]))
        accepted = loss < best * (1 - min_gain) if best > 0 else loss < best
        trials.append({"feature": cand["name"], "cv_loss": loss, "kept": accepted})
        if accepted:
            kept.append(cand)
            best = loss
    logger.info("constructed features kept: %s", [k["name"] for k in kept])
    return kept, trials


_SCREEN = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "n_estimators": 150,
    "min_data_in_leaf": 5,
    "max_bin": 1023,
    "min_data_in_bin": 1,
}


def _loss(kind: str, y: np.ndarray, oof: np.ndarray) -> float:
    from shopfloor.evaluation.metrics import score

    return score("log_loss", y, oof) if kind == "classification" else float(np.mean((y - oof) ** 2))


def search_and_select(
    frame: Any,
    types: Mapping[str, str],
    y: np.ndarray,
    kind: str,
    n_classes: int,
    metric: str,
    seed: int,
    budget: Budget,
    progress: Any,
) -> dict[str, Any]:
    """Construct features, then pick the best candidate model, all by CV on the training rows.

    Feature search: every pair difference/product/ratio of numeric inputs is ranked by
    LightGBM gain (one fit with all of them), then the best are added greedily while the
    CV loss of a fast LightGBM (log-loss or MSE) drops by at least 1 %. Model selection
    scores each candidate's pooled out-of-fold predictions with ``metric`` (threshold
    tuned on them for binary threshold metrics); ``cv_std`` is the spread over folds.
    Feature search ends 30 % and model selection 75 % of the way from the start of the search
    to the end of ``budget``; a candidate whose cost would pass that is skipped or stopped
    between folds (each recorded as a cut in ``budget``).
    """
    import time

    t_start = time.perf_counter()
    n_folds = 5 if budget.seconds >= 60 and len(y) < 200_000 else 3
    cells = len(y) * len(types)
    if n_folds == 5 and cells > LARGE_CELLS:
        n_folds = 3
        budget.cut("cross-validation", f"3 folds instead of 5 ({len(y)} rows x {len(types)} inputs)")
    folds = make_folds(frame, types, y, kind, n_folds, seed)
    n_folds = len(folds)
    left = max(budget.end - t_start, 1.0)
    numeric = [c for c, t in types.items() if t == "numeric"]
    constructed: list[dict[str, Any]] = []
    trials: list[dict[str, Any]] = []
    if len(numeric) >= 2:
        constructed, trials = _construct_features(
            folds, numeric, y, kind, n_classes, seed, t_start + 0.3 * left, progress, budget
        )
    imbalanced = kind == "classification" and np.bincount(y).min() / len(y) < 0.2
    grid = candidate_grid(kind, len(y), budget.seconds, imbalanced)
    results, best = _select_model(
        folds, constructed, grid, y, kind, n_classes, metric, seed, t_start + 0.75 * left, progress, budget
    )
    for row in results:
        row["chosen"] = row["name"] == best["name"]
    chosen = {"name": best["name"], "family": best["family"], "params": best["params"]}
    return {
        "constructed": constructed,
        "feature_trials": trials,
        "chosen": chosen,
        "oof": best["oof"],
        "oof_y": y,
        "candidates": results,
        "n_folds": n_folds,
    }


def _construct_features(
    folds: list[Fold],
    numeric: list[str],
    y: np.ndarray,
    kind: str,
    n_classes: int,
    seed: int,
    feature_end: float,
    progress: Any,
    budget: Budget,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rank the pair features by one LightGBM's gain, then add them greedily by CV loss until
    ``feature_end``: the features kept and every trial."""
    import time

    progress(0.05, "feature construction", "screening pair differences, products and ratios")
    if time.perf_counter() > feature_end:
        budget.cut("feature construction", "skipped: no time left for it")
        return [], []
    cands = candidate_features(numeric)
    X_tr, _ = folds[0].matrices(cands)
    started = time.perf_counter()
    screen = make_model("lightgbm", kind, n_classes, _SCREEN, seed).fit(X_tr, folds[0].y_tr, feature_end)
    # one cross-validated loss costs about one such fit per fold: none is started that would end late
    per_loss = [len(folds) * (time.perf_counter() - started)]
    gain = screen.booster_.feature_importance("gain")  # type: ignore[attr-defined]
    first = len(folds[0].pre.numeric) + len(folds[0].pre.boolean)
    rank = [float(g) for g in gain[first : first + len(cands)]]
    calls = [0]

    def cv_loss(feats: list[dict[str, Any]]) -> float:
        calls[0] += 1
        began = time.perf_counter()
        progress(
            0.05 + min(0.2, 0.02 * calls[0]),
            "feature construction",
            f"cross-validating {len(feats)} constructed feature(s)",
        )
        oof = out_of_fold(folds, feats, "lightgbm", _SCREEN, kind, n_classes, seed)
        assert oof is not None  # no deadline: every fold runs
        per_loss[0] = time.perf_counter() - began
        return _loss(kind, y, oof)

    stopped = [False]

    def out_of_time() -> bool:
        stopped[0] = time.perf_counter() + per_loss[0] > feature_end
        return stopped[0]

    if out_of_time():
        budget.cut("feature construction", "skipped: its cross-validation would pass its deadline")
        return [], []
    kept, trials = search_features(cands, rank, cv_loss, out_of_time=out_of_time)
    if stopped[0]:
        budget.cut("feature construction", f"stopped after {len(trials) - 1} candidate feature(s) tried")
    return kept, trials


def _select_model(
    folds: list[Fold],
    constructed: list[dict[str, Any]],
    grid: Any,
    y: np.ndarray,
    kind: str,
    n_classes: int,
    metric: str,
    seed: int,
    select_end: float,
    progress: Any,
    budget: Budget,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score every candidate of the grid by its pooled out-of-fold predictions: one row per
    candidate scored, and the best (with its out-of-fold predictions).

    The first candidate (the cheapest) always runs. Another is skipped when its family's
    known cost would pass ``select_end``, and stopped between folds when the folds left would
    (a family's first candidate has no known cost); both are recorded as cuts. Inside a job on
    a Dask cluster the candidates are scored on the cluster (:func:`shopfloor.parallel.fan_out`).
    """
    import time

    n_folds = len(folds)
    cluster = on_cluster()
    cost: dict[str, float] = {}  # the slowest candidate of each family so far

    def before(i: int) -> bool:
        name, family, _ = grid[i]
        if i and time.perf_counter() + cost.get(family, 0.0) > select_end:
            return False
        if cluster:  # the folds run elsewhere: progress is reported here, per candidate
            progress(0.25 + 0.5 * i / len(grid), "model selection", f"{name}: {n_folds} folds")
        return True

    def after(i: int, out: tuple[np.ndarray | None, float]) -> None:
        family = grid[i][1]
        cost[family] = max(cost.get(family, 0.0), out[1])

    def on_fold(i: int, k: int) -> None:
        progress(0.25 + 0.5 * i / len(grid), "model selection", f"{grid[i][0]}: fold {k + 1}/{n_folds}")

    # a candidate on another worker cannot call back into the job: progress per candidate above
    score_one = partial(
        _candidate_oof, folds, constructed, kind, n_classes, seed, None if cluster else on_fold
    )
    items = [(i, family, params) for i, (_, family, params) in enumerate(grid)]
    outs = fan_out(score_one, items, before=before, after=after, name="candidate", until=select_end)
    results, best, skipped = _scored(grid, outs, folds, y, kind, n_classes, metric)
    if skipped:
        budget.cut(
            "model selection", f"{len(skipped)} of {len(grid)} candidates not scored: {', '.join(skipped)}"
        )
    assert best is not None
    return results, best


def _scored(
    grid: Any, outs: list[Any], folds: list[Fold], y: np.ndarray, kind: str, n_classes: int, metric: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[str]]:
    """The candidates' rows in grid order, the best one (with its out-of-fold predictions), and
    the names of those skipped or stopped."""
    from shopfloor.evaluation.metrics import THRESHOLD_METRICS, best_threshold, greater_is_better, score

    higher = greater_is_better(metric)
    results: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    so_far: dict[str, float] = {}
    skipped: list[str] = []
    for (name, family, params), out in zip(grid, outs, strict=True):
        if out is SKIPPED:
            skipped.append(name)
            continue
        oof, seconds = out
        so_far[family] = max(so_far.get(family, 0.0), seconds)
        if oof is None:
            skipped.append(f"{name} (stopped at the selection deadline)")
            continue
        thr = None
        if kind == "classification" and n_classes == 2 and metric in THRESHOLD_METRICS:
            thr, _ = best_threshold(y, oof[:, 1], metric)
        cv = score(metric, y, oof, thr)
        per_fold = [score(metric, y[f.va], oof[f.va], thr) for f in folds]
        row = {
            "name": name,
            "family": family,
            "params": {k: v for k, v in params.items() if v is not None},
            "cv_score": cv,
            "cv_std": float(np.nanstd(per_fold)),
            "fit_seconds": round(so_far[family], 3),
            "chosen": False,
        }
        results.append(row)
        if best is None or (cv > best["cv_score"] if higher else cv < best["cv_score"]):
            best = {**row, "oof": oof, "params": dict(params)}
    return results, best, skipped


def _candidate_oof(
    folds: list[Fold],
    constructed: list[dict[str, Any]],
    kind: str,
    n_classes: int,
    seed: int,
    on_fold: Any,
    item: tuple[int, str, Mapping[str, Any]],
) -> tuple[np.ndarray | None, float]:
    """One candidate's out-of-fold predictions (None when stopped at the selection deadline) and
    its seconds. The first candidate runs to its end; the others stop between folds."""
    import time

    i, family, params = item
    started = time.perf_counter()
    until = None if i == 0 else deadline()
    fold_done = None if on_fold is None else partial(on_fold, i)
    oof = out_of_fold(folds, constructed, family, params, kind, n_classes, seed, fold_done, until)
    return oof, time.perf_counter() - started


class Fold:
    """One cross-validation fold: base preprocessing fitted on its training rows only."""

    def __init__(
        self, frame: Any, types: Mapping[str, str], y: np.ndarray, tr: np.ndarray, va: np.ndarray
    ) -> None:
        self.tr, self.va = tr, va
        self.pre = Preprocessor.fit(frame.iloc[tr], types)
        self.enc_tr = self.pre.encode(frame.iloc[tr])
        self.enc_va = self.pre.encode(frame.iloc[va])
        self.y_tr, self.y_va = y[tr], y[va]

    def matrices(self, constructed: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        pre = self.pre.with_constructed(constructed)
        return pre.expand(self.enc_tr), pre.expand(self.enc_va)


def make_folds(
    frame: Any, types: Mapping[str, str], y: np.ndarray, kind: str, n_splits: int, seed: int
) -> list[Fold]:
    """Stratified (classification) or plain shuffled K-fold over the training rows."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if kind == "classification":
        n_splits = max(2, min(n_splits, int(np.bincount(y).min())))
        splitter: Any = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [Fold(frame, types, y, tr, va) for tr, va in splitter.split(np.zeros(len(y)), y)]


def out_of_fold(
    folds: list[Fold],
    constructed: list[dict[str, Any]],
    family: str,
    params: Mapping[str, Any],
    kind: str,
    n_classes: int,
    seed: int,
    on_fold: Any = None,
    deadline: float | None = None,
) -> np.ndarray | None:
    """Out-of-fold predictions (probabilities or values) for every training row.

    With a ``deadline`` (a ``time.perf_counter`` value): None as soon as the folds left, at the
    pace of those done, would end after it, or a LightGBM fit is stopped by it. Inside a job on a
    Dask cluster the folds are fitted on the cluster (:func:`shopfloor.parallel.fan_out`).
    """
    import time

    n = sum(len(f.va) for f in folds)
    oof = np.zeros((n, n_classes)) if kind == "classification" else np.zeros(n)
    started, done, stopped = time.perf_counter(), [0], [False]

    def before(i: int) -> bool:
        now = time.perf_counter()
        if stopped[0] or (deadline is not None and done[0] and now + (now - started) / done[0] > deadline):
            stopped[0] = True
            return False
        if on_fold is not None:
            on_fold(i)
        return True

    def after(_: int, pred: np.ndarray | None) -> None:
        done[0] += 1
        stopped[0] = stopped[0] or pred is None

    fit_one = partial(_fold_output, constructed, family, params, kind, n_classes, seed)
    preds = fan_out(fit_one, folds, before=before, after=after, name="fold", until=deadline)
    if stopped[0] or any(p is SKIPPED or p is None for p in preds):
        return None
    for fold, pred in zip(folds, preds, strict=True):
        oof[fold.va] = pred
    return oof


def _fold_output(
    constructed: list[dict[str, Any]],
    family: str,
    params: Mapping[str, Any],
    kind: str,
    n_classes: int,
    seed: int,
    fold: Fold,
) -> np.ndarray | None:
    """One fold's predictions on its validation rows, None when the deadline stopped its fit."""
    X_tr, X_va = fold.matrices(constructed)
    model = make_model(family, kind, n_classes, params, seed).fit(X_tr, fold.y_tr, deadline())
    if getattr(model, "stopped_", False):
        return None
    return np.asarray(model.predict_output(X_va))

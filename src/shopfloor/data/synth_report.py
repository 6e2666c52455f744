"""Synthesize a table and report how useful, faithful and private the synthetic copy is.

:func:`synthesize_with_report` splits the real rows 80/20 (stratified on the target when
it is categorical), fits :class:`~shopfloor.data.synthesize.GaussianCopula` on the 80 %
only (one copula per target level for a categorical target), samples the requested rows
(none identical to any real row), and reports:

* ``utility`` (only with a ``target``): the same fast model (HistGradientBoosting, fixed
  parameters) trained once on the real 80 % and once on synthetic rows, both scored on
  the held-back real 20 % (ROC-AUC and F1 for a categorical target, R² and RMSE otherwise);
* ``fidelity``: per column, the KS statistic (numeric, datetime) or the total-variation
  distance (categorical, boolean), and the largest absolute difference between the real
  and synthetic Spearman correlation matrices (categories as codes);
* ``privacy``: distance to the closest real training row (DCR, on standardised numeric
  and one-hot categorical columns) for synthetic rows and, as the baseline, for the
  held-back real rows (min / 5th percentile / median), and the number of synthetic rows
  identical to a real row (0 by construction).

The synthetic rows come from the generator the report describes (fitted on the 80 %).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from shopfloor.data.synthesize import GaussianCopula, row_keys
from shopfloor.progress import ProgressFn, no_progress

HOLDOUT = 0.2
_MODEL_PARAMS = {"max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 31}
_CATEGORICAL = ("categorical", "boolean")


def _modelled(frame: pd.DataFrame, types: dict[str, str]) -> list[str]:
    return [c for c in frame.columns if types.get(c) not in ("id", "text")]


def _features(
    frame: pd.DataFrame, cols: list[str], types: dict[str, str], levels: dict[str, list[str]]
) -> pd.DataFrame:
    """Model inputs: numbers as floats, categories as pandas categoricals with fixed levels."""
    out = {}
    for c in cols:
        if types.get(c) in _CATEGORICAL:
            out[c] = pd.Categorical(frame[c].astype(str), categories=levels[c])
        elif types.get(c) == "datetime":
            out[c] = pd.to_datetime(frame[c], errors="coerce").astype("int64").astype(float)
        else:
            out[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    return pd.DataFrame(out)


def _utility(
    train: pd.DataFrame,
    synth: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    types: dict[str, str],
    seed: int,
) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, mean_squared_error, r2_score, roc_auc_score

    cols = [c for c in _modelled(train, types) if c != target]
    classify = types.get(target) in _CATEGORICAL
    levels = {
        c: sorted(pd.concat([train[c], test[c]]).astype(str).unique())
        for c in cols
        if types.get(c) in _CATEGORICAL
    }
    X_te = _features(test, cols, types, levels)
    out: dict[str, Any] = {
        "target": target,
        "kind": "classification" if classify else "regression",
        "model": "HistGradientBoosting",
        "params": _MODEL_PARAMS,
        "n_test": len(test),
    }
    if classify:
        classes = sorted(train[target].astype(str).unique())
        y_te = test[target].astype(str).to_numpy()
        for name, rows in (("real", train), ("synthetic", synth)):
            y = rows[target].astype(str).to_numpy()
            if len(set(y)) < 2:
                out[name] = {"roc_auc": None, "f1": None, "note": "a single class in the training rows"}
                continue
            model = HistGradientBoostingClassifier(
                **_MODEL_PARAMS, categorical_features="from_dtype", random_state=seed
            )
            model.fit(_features(rows, cols, types, levels), y)
            proba = model.predict_proba(X_te)
            seen = list(model.classes_)
            full = np.zeros((len(X_te), len(classes)))
            for k, c in enumerate(seen):
                if c in classes:
                    full[:, classes.index(c)] = proba[:, k]
            if len(classes) == 2:
                auc = roc_auc_score(y_te == classes[1], full[:, 1])
                f1 = f1_score(y_te == classes[1], full[:, 1] >= 0.5)
            else:
                auc = roc_auc_score(y_te, full, multi_class="ovr", labels=classes)
                f1 = f1_score(y_te, np.array(classes)[full.argmax(1)], average="macro")
            out[name] = {"roc_auc": round(float(auc), 4), "f1": round(float(f1), 4), "n_train": len(rows)}
    else:
        y_te = pd.to_numeric(test[target], errors="coerce").to_numpy(float)
        for name, rows in (("real", train), ("synthetic", synth)):
            y = pd.to_numeric(rows[target], errors="coerce").to_numpy(float)
            keep = ~np.isnan(y)
            model = HistGradientBoostingRegressor(
                **_MODEL_PARAMS, categorical_features="from_dtype", random_state=seed
            )
            model.fit(_features(rows, cols, types, levels)[keep], y[keep])
            pred = model.predict(X_te)
            ok = ~np.isnan(y_te)
            out[name] = {
                "r2": round(float(r2_score(y_te[ok], pred[ok])), 4),
                "rmse": round(float(np.sqrt(mean_squared_error(y_te[ok], pred[ok]))), 4),
                "n_train": len(rows),
            }
    return out


def _codes(frame: pd.DataFrame, cols: list[str], types: dict[str, str]) -> pd.DataFrame:
    out = {}
    for c in cols:
        if types.get(c) in _CATEGORICAL:
            out[c] = frame[c].astype(str)
        elif types.get(c) == "datetime":
            out[c] = pd.to_datetime(frame[c], errors="coerce").astype("int64").astype(float)
        else:
            out[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    return pd.DataFrame(out)


def _fidelity(real: pd.DataFrame, synth: pd.DataFrame, types: dict[str, str]) -> dict[str, Any]:
    cols = [c for c in _modelled(real, types) if c in synth.columns]
    r, s = _codes(real, cols, types), _codes(synth, cols, types)
    per_column = {}
    for c in cols:
        if types.get(c) in _CATEGORICAL:
            p = r[c].value_counts(normalize=True)
            q = s[c].value_counts(normalize=True)
            tv = 0.5 * float(p.subtract(q, fill_value=0).abs().sum())
            per_column[c] = {"type": types.get(c), "metric": "total_variation", "value": round(tv, 4)}
        else:
            a, b = r[c].dropna().to_numpy(), s[c].dropna().to_numpy()
            ks = float(stats.ks_2samp(a, b).statistic) if len(a) and len(b) else None
            per_column[c] = {
                "type": types.get(c),
                "metric": "ks",
                "value": None if ks is None else round(ks, 4),
            }
    levels = {c: sorted(set(r[c]) | set(s[c])) for c in cols if types.get(c) in _CATEGORICAL}
    for c, lv in levels.items():
        r[c] = pd.Categorical(r[c], categories=lv).codes
        s[c] = pd.Categorical(s[c], categories=lv).codes
    diff = (r.corr(method="spearman") - s.corr(method="spearman")).abs().fillna(0.0)
    i, j = np.unravel_index(int(np.argmax(diff.to_numpy())), diff.shape) if len(cols) else (0, 0)
    return {
        "columns": per_column,
        "correlation_max_abs_diff": round(float(diff.to_numpy().max()), 4) if len(cols) else 0.0,
        "correlation_worst_pair": [cols[i], cols[j]] if len(cols) > 1 else None,
        "correlation_method": "Spearman; categories as codes",
    }


def _dcr(train: pd.DataFrame, others: list[pd.DataFrame], types: dict[str, str]) -> list[np.ndarray]:
    """Euclidean distance from each row of each ``others`` frame to its closest ``train`` row."""
    from scipy.spatial import cKDTree

    cols = _modelled(train, types)
    num = [c for c in cols if types.get(c) not in _CATEGORICAL]
    cat = [c for c in cols if types.get(c) in _CATEGORICAL]
    base = _codes(train, num, types)
    mean, std = base.mean(), base.std().replace(0, 1).fillna(1)
    levels = {c: sorted(train[c].astype(str).unique()) for c in cat}

    def matrix(frame: pd.DataFrame) -> np.ndarray:
        parts = [((_codes(frame, num, types) - mean) / std).fillna(0.0).to_numpy(float)]
        for c in cat:
            values = frame[c].astype(str).to_numpy()
            parts.append((values[:, None] == np.array(levels[c])[None, :]).astype(float))
        return np.hstack(parts)

    tree = cKDTree(matrix(train))
    return [tree.query(matrix(o), k=1)[0] for o in others]


def _summary(d: np.ndarray) -> dict[str, float]:
    return {
        "min": round(float(d.min()), 4),
        "p5": round(float(np.percentile(d, 5)), 4),
        "median": round(float(np.median(d)), 4),
    }


def synthesize_with_report(
    frame: pd.DataFrame,
    types: dict[str, str],
    rows: int,
    *,
    target: str | None = None,
    seed: int = 0,
    progress: ProgressFn = no_progress,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``rows`` synthetic rows of ``frame`` and the report described in the module docstring."""
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    frame = frame.reset_index(drop=True)
    strat = None
    if target is not None and types.get(target) in _CATEGORICAL:
        counts = frame[target].astype(str).value_counts()
        strat = frame[target].astype(str) if counts.min() >= 2 else None
    tr, te = train_test_split(np.arange(len(frame)), test_size=HOLDOUT, random_state=seed, stratify=strat)
    train, test = (
        frame.iloc[np.sort(tr)].reset_index(drop=True),
        frame.iloc[np.sort(te)].reset_index(drop=True),
    )
    progress(0.1, "fitting", f"fitting the copula on {len(train)} real rows ({len(test)} held back)")
    generator = GaussianCopula(seed).fit_by(train, types, target)
    progress(0.3, "sampling", f"sampling {rows} synthetic rows")
    synth = generator.sample(rows, avoid=frame)
    compared = [c for c in generator.columns_ if c in generator.margins_]
    reproduced = int(np.isin(row_keys(synth, compared), row_keys(frame, compared)).sum())
    conditioned = bool(generator.parts_)
    report: dict[str, Any] = {
        "method": "gaussian copula (empirical marginals, normal-score correlations)"
        + (f", one per level of {target!r}" if conditioned else ""),
        "rows": {"real": len(frame), "fit": len(train), "held_back": len(test), "synthetic": rows},
        "notes": generator.notes_
        + [
            {"code": "ids-regenerated", "column": c, "message": f"id column {c!r} holds fresh ids"}
            for c in generator.ids_
        ],
    }
    if target is not None:
        progress(0.45, "utility", "training the same model on real and on synthetic rows")
        report["utility"] = _utility(train, synth, test, target, types, seed)
    progress(0.7, "fidelity", "comparing marginals and correlations")
    report["fidelity"] = _fidelity(train, synth, types)
    progress(0.8, "privacy", "distances to the closest real row")
    d_synth, d_hold = _dcr(train, [synth, test], types)
    report["privacy"] = {
        "dcr_synthetic": _summary(d_synth),
        "dcr_holdout_real": _summary(d_hold),
        "reproduced_rows": reproduced,
        "distance": "euclidean on standardised numeric and one-hot categorical columns, "
        "to the closest real row the generator was fitted on",
    }
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return synth, report

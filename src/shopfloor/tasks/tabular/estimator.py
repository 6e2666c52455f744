"""Tabular classification and regression (failure and quality prediction).

:class:`TabularEstimator` implements :class:`~shopfloor.tasks.base.Estimator`: it holds
out a stratified 20 % test split, constructs and selects features and a model
(regularised linear, random forest, LightGBM) by cross-validation on the other 80 %,
tunes the binary decision threshold on out-of-fold predictions, and reports hold-out
metrics, their stability over seeded splits, leakage warnings and surrogate rules.
The served model is the one fitted on the 80 % (so the report describes exactly it).
Artifacts: ``estimator.json`` plus one model file (see :data:`ARTIFACT_FILES`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.evaluation import metrics as M
from shopfloor.evaluation.calibration import fit_platt
from shopfloor.evaluation.stability import stability
from shopfloor.explain.contributions import attribute_to_inputs, lime_weights
from shopfloor.explain.rules import surrogate_rules
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.state_file import read_state
from shopfloor.tasks.tabular import CLASSIFICATION, REGRESSION
from shopfloor.tasks.tabular.answers import scored_answers
from shopfloor.tasks.tabular.budget import SCREEN_ABOVE, Budget, keep_count, restrict, screen_inputs
from shopfloor.tasks.tabular.features import Preprocessor, infer_column_types, search_and_select
from shopfloor.tasks.tabular.models import MODEL_FILES, TabularModel, load_model, make_model

logger = logging.getLogger(__name__)

ESTIMATOR_FILE = "estimator.json"
#: Every file name a tabular artifact may contain (the estimator state plus one model file).
ARTIFACT_FILES = (ESTIMATOR_FILE, *MODEL_FILES.values())
FORMAT_VERSION = 1
BACKGROUND_ROWS = 200
#: the leakage check looks at most at this many training rows (a random sample beyond)
LEAKAGE_ROWS = 20_000
#: the input screen of a very wide table may take this fraction of the time budget
SCREEN_SHARE = 0.15
#: stability splits must end by this fraction of the time budget (the rules come after)
STABILITY_END = 0.95


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _without_missing_target(frame: pd.DataFrame, target: str, notes: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows that have a target; how many were dropped goes to ``notes``."""
    missing = frame[target].isna()
    if missing.any():
        notes.append(
            {"code": "target-missing", "message": f"{int(missing.sum())} rows without a target dropped"}
        )
        frame = frame.loc[~missing].reset_index(drop=True)
    return frame


class TabularEstimator(BaseEstimator):
    """AutoML for one table: ``kind`` is "classification" or "regression".

    ``metric`` selects the model (default F1 / macro-F1 / RMSE; also roc_auc, pr_auc,
    accuracy, balanced_accuracy, log_loss, r2, mae); ``time_budget_s`` bounds the whole fit
    (see :mod:`shopfloor.tasks.tabular.budget`: wide tables are screened, steps stop at their
    deadlines and ``report_["budget"]`` lists what was cut);
    ``column_types`` maps column -> numeric|categorical|boolean|datetime|text|id (id, text
    and datetime columns are dropped; missing entries are inferred).
    """

    declared: ClassVar[Mapping[str, Capabilities]] = {
        "tabular_classification": CLASSIFICATION,
        "tabular_regression": REGRESSION,
    }


    def __init__(
        self,
        kind: str = "classification",
        metric: str | None = None,
        time_budget_s: float = 300,
        seed: int = 0,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.metric = metric
        self.time_budget_s = time_budget_s
        self.seed = seed
        self.column_types = column_types

    @property
    def task(self) -> str:
        return f"tabular_{self.kind}"

    def get_params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "metric": self.metric,
            "time_budget_s": self.time_budget_s,
            "seed": self.seed,
            "column_types": self.column_types,
        }

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self:
        """Train, select and evaluate; sets ``report_``, ``input_schema_`` and the model.

        Raises :class:`InvalidInput` for an unknown kind or metric, a missing target,
        too few rows or classes. ``progress`` exceptions (cancellation) propagate.
        """
        t0 = time.perf_counter()
        budget = Budget(float(self.time_budget_s), start=t0)
        self._check_kind_and_target(frame, target)
        progress(0.0, "preparing", "checking columns and target")
        notes: list[dict[str, Any]] = []
        labelled = np.flatnonzero(frame[target].notna().to_numpy())  # the rows kept (with a target)
        frame = _without_missing_target(frame.reset_index(drop=True), target, notes)
        y_all, classes = self._encode_target(frame[target])
        n_classes = len(classes)
        metric = M.check_metric(self.kind, self.metric, max(n_classes, 2))
        types, dropped = infer_column_types(frame, target, self.column_types)
        if not types:
            raise InvalidInput("no usable input columns (all were dropped as id, text, datetime or constant)")
        classify = self.kind == "classification"
        tr, te = self._holdout_split(len(frame), y_all if classify else None)
        self.holdout_rows_ = labelled[te]
        train, test = frame.iloc[tr].reset_index(drop=True), frame.iloc[te].reset_index(drop=True)
        y_tr, y_te = y_all[tr], y_all[te]
        types, screening = self._screen(train, types, y_tr, n_classes, budget, progress)
        if screening is not None:
            kept = [*types, target]
            frame, train, test = frame[kept], train[kept], test[kept]

        progress(0.03, "preparing", "leakage check")
        base_pre = Preprocessor.fit(train, types)
        enc_tr = base_pre.encode(train)
        warns = self._leakage(enc_tr, base_pre, y_tr, classes, budget)
        for w in warns:
            logger.warning("possible leakage: %s", w["message"])

        sel = search_and_select(train, types, y_tr, self.kind, n_classes, metric, self.seed, budget, progress)
        constructed, chosen = sel["constructed"], sel["chosen"]

        progress(0.78, "threshold", "tuning the decision threshold on out-of-fold predictions")
        threshold = None
        if classify and n_classes == 2:
            threshold, _ = M.best_threshold(sel["oof_y"], sel["oof"][:, 1], metric)

        progress(0.8, "evaluation", f"refitting {chosen['name']} on the training split")
        pre = base_pre.with_constructed(constructed)
        refit_started = time.perf_counter()
        model, enc_te, holdout = self._refit_and_evaluate(
            pre, chosen, n_classes, enc_tr, y_tr, test, y_te, classes, threshold
        )

        stab = self._stability(
            frame, types, constructed, chosen, y_all, n_classes, threshold, metric, progress,
            budget, time.perf_counter() - refit_started,
        )

        progress(0.93, "explanations/rules", "fitting the surrogate rule tree")
        self.pre_, self.model_, self.classes_, self.threshold_ = pre, model, classes, threshold
        rules = self._rules(enc_tr, y_tr, enc_te, y_te, budget)
        rng = np.random.default_rng(self.seed)
        pick = np.sort(rng.choice(len(enc_tr), size=min(BACKGROUND_ROWS, len(enc_tr)), replace=False))
        self.background_ = self._impute_inputs(enc_tr[pick])
        self.input_schema_ = pre.input_schema()
        cut_notes = [{"code": "time-budget", "message": f"{c['step']}: {c['message']}"} for c in budget.cuts]
        self.report_ = self._fit_report(
            target, metric, holdout, stab, sel, types, dropped, warns + notes + cut_notes, rules, (tr, te), t0
        )
        self.report_["features"]["screening"] = screening
        self.report_["budget"] = budget.report()
        if classify:  # how far the served probabilities are from the held-out frequencies, plain numbers
            self.report_["calibration"] = fit_platt(y_te, model.predict_output(pre.expand(enc_te)))
        progress(
            1.0, "done", f"{chosen['name']}: hold-out {metric} = {holdout.get(metric, float('nan')):.4f}"
        )
        return self

    def _check_kind_and_target(self, frame: pd.DataFrame, target: str) -> None:
        """The kind is one this family learns and the target is a column of the table."""
        if self.kind not in ("classification", "regression"):
            raise InvalidInput(f"kind must be 'classification' or 'regression', not {self.kind!r}")
        if target not in frame.columns:
            raise InvalidInput(
                f"target column {target!r} is not in the table",
                errors=[{"loc": ["params", "target"], "msg": "unknown column"}],
            )

    def _screen(
        self,
        train: pd.DataFrame,
        types: dict[str, str],
        y: np.ndarray,
        n_classes: int,
        budget: Budget,
        progress: ProgressFn,
    ) -> tuple[dict[str, str], dict[str, Any] | None]:
        """The input columns the search will use: all of them, or on a very wide table the best
        :func:`keep_count` by a fast screen (recorded as a cut); and the screen's report or None.

        The leakage check then looks at the kept columns only: a column that alone predicts the
        target has the largest gain, so it is kept."""
        pre = Preprocessor.fit(train, types)
        keep = keep_count(budget.seconds)
        if pre.n_columns <= SCREEN_ABOVE or len(pre.inputs) <= keep:
            return types, None
        progress(0.02, "preparing", f"screening {len(pre.inputs)} input columns")
        kept, report = screen_inputs(
            pre.encode(train), pre, y, self.kind, n_classes, self.seed, keep,
            time.perf_counter() + SCREEN_SHARE * budget.seconds,
        )
        budget.cut(
            "input screening",
            f"{len(kept)} of {report['inputs']} input columns kept by a LightGBM gain screen "
            f"on {report['rows']} rows (see features.screening)",
        )
        return restrict(types, kept), report

    def _leakage(
        self, enc: np.ndarray, pre: Preprocessor, y: np.ndarray, classes: list[Any], budget: Budget
    ) -> list[dict[str, Any]]:
        """Leakage warnings, on a row sample of a long table (recorded as a cut)."""
        if len(enc) > LEAKAGE_ROWS:
            rng = np.random.default_rng(self.seed)
            pick = np.sort(rng.choice(len(enc), size=LEAKAGE_ROWS, replace=False))
            enc, y = enc[pick], y[pick]
            budget.cut("leakage check", f"run on a sample of {LEAKAGE_ROWS} training rows")
        return M.leakage_warnings(enc, pre, y, self.kind, classes=classes)

    def _holdout_split(self, n_rows: int, strat: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Training and hold-out row numbers (80/20, stratified for classification), each sorted."""
        from sklearn.model_selection import train_test_split

        tr, te = train_test_split(np.arange(n_rows), test_size=0.2, random_state=self.seed, stratify=strat)
        return np.sort(tr), np.sort(te)

    def _refit_and_evaluate(
        self,
        pre: Preprocessor,
        chosen: dict[str, Any],
        n_classes: int,
        enc_tr: np.ndarray,
        y_tr: np.ndarray,
        test: pd.DataFrame,
        y_te: np.ndarray,
        classes: list[Any],
        threshold: float | None,
    ) -> tuple[Any, np.ndarray, dict[str, Any]]:
        """Refit the chosen model on the training split: the model, the encoded hold-out rows and
        the hold-out report."""
        model = make_model(chosen["family"], self.kind, n_classes, chosen["params"], self.seed)
        model.fit(pre.expand(enc_tr), y_tr)
        enc_te = pre.encode(test)
        out_te = model.predict_output(pre.expand(enc_te))
        holdout = (
            M.classification_report(y_te, out_te, classes, threshold)
            if self.kind == "classification"
            else M.regression_report(y_te, out_te)
        )
        return model, enc_te, holdout

    def _fit_report(
        self,
        target: str,
        metric: str,
        holdout: dict[str, Any],
        stab: dict[str, Any],
        sel: dict[str, Any],
        types: dict[str, str],
        dropped: Any,
        warnings: list[dict[str, Any]],
        rules: Any,
        split: tuple[np.ndarray, np.ndarray],
        t0: float,
    ) -> dict[str, Any]:
        """The fit report: hold-out metrics, stability, the candidates and the chosen one, features."""
        chosen, constructed, pre = sel["chosen"], sel["constructed"], self.pre_
        classify = self.kind == "classification"
        return {
            "task": self.task,
            "target": target,
            "kind": self.kind,
            "classes": [_jsonable(c) for c in self.classes_] if classify else None,
            "metric": metric,
            "threshold": self.threshold_,
            "metrics": holdout,
            "stability": stab,
            "candidates": sel["candidates"],
            "chosen": chosen["name"],
            "family": chosen["family"],
            "params": chosen["params"],
            "features": {
                "inputs": pre.inputs,
                "types": types,
                "constructed": [
                    {"name": f["name"], "op": f["op"], "sources": f["sources"]} for f in constructed
                ],
                "search": sel["feature_trials"],
                "dropped": dropped,
            },
            "warnings": warnings,
            "rules": rules,
            "n_train": int(len(split[0])),
            "n_test": int(len(split[1])),
            "cv_folds": sel["n_folds"],
            "fit_seconds": round(time.perf_counter() - t0, 3),
        }

    def _encode_target(self, y: pd.Series) -> tuple[np.ndarray, list[Any]]:
        if self.kind == "regression":
            values = pd.to_numeric(y, errors="coerce")
            if values.isna().any():
                raise InvalidInput(f"regression target {y.name!r} has non-numeric values")
            return values.to_numpy(float), []
        classes = sorted(pd.unique(y).tolist(), key=lambda v: (str(type(v)), v))
        if len(classes) < 2:
            raise InvalidInput(f"target {y.name!r} has a single class; classification needs at least two")
        codes = pd.Categorical(y, categories=classes).codes.astype(int)
        counts = np.bincount(codes, minlength=len(classes))
        if counts.min() < 5:
            raise InvalidInput(
                "every class needs at least 5 rows; counts: "
                f"{dict(zip(map(str, classes), counts.tolist(), strict=True))}"
            )
        return codes, classes

    def _stability(
        self,
        frame: pd.DataFrame,
        types: dict[str, str],
        constructed: list[dict[str, Any]],
        chosen: dict[str, Any],
        y: np.ndarray,
        n_classes: int,
        threshold: float | None,
        metric: str,
        progress: ProgressFn,
        budget: Budget,
        refit_seconds: float,
    ) -> dict[str, Any]:
        """The chosen configuration refit on 5 seeded splits, as many as end by
        :data:`STABILITY_END` of the budget (one split costs about the final refit)."""
        kind, seed = self.kind, self.seed  # the refits may run on other workers: not `self`
        classify = kind == "classification"
        classes = list(range(n_classes))

        def fit_and_score(tr: np.ndarray, te: np.ndarray) -> dict[str, float]:
            pre = Preprocessor.fit(frame.iloc[tr], types).with_constructed(constructed)
            model = make_model(chosen["family"], kind, n_classes, chosen["params"], seed)
            model.fit(pre.transform(frame.iloc[tr]), y[tr])
            out = model.predict_output(pre.transform(frame.iloc[te]))
            report = (
                M.classification_report(y[te], out, classes, threshold)
                if classify
                else M.regression_report(y[te], out)
            )
            # Every scalar metric of the held-out report, so each gets its spread.
            scores = M.scalar_metrics(report)
            scores.setdefault(metric, M.score(metric, y[te], out, threshold))
            return scores

        def on_split(i: int) -> None:
            progress(0.82 + 0.1 * i / 5, "stability", f"refit {i + 1}/5 on a new seeded split")

        out = stability(
            fit_and_score,
            len(frame),
            n_splits=5,
            seed=self.seed,
            stratify=y if classify else None,
            on_split=on_split,
            method="5 seeded 80/20 splits of the whole table, chosen configuration refit "
            "(features, hyper-parameters and threshold fixed)",
            deadline=budget.at(STABILITY_END),
            split_seconds=refit_seconds,
        )
        if out.get("skipped"):
            budget.cut("stability", f"{out['n']} of 5 seeded refits run, {out['skipped']} skipped")
        return out

    # ------------------------------------------------------------------ rules
    def _human(self, enc: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
        """Inputs in human units for the surrogate: the model matrix without constructed columns."""
        base = Preprocessor(**{**self.pre_.to_json(), "constructed": []})
        cols = base.columns()
        return base.expand(enc), [c["name"] for c in cols], [c["kind"] for c in cols]

    def _rules(
        self, enc_tr: np.ndarray, y_tr: np.ndarray, enc_te: np.ndarray, y_te: np.ndarray, budget: Budget
    ) -> dict[str, Any]:
        H_tr, names, kinds = self._human(enc_tr)
        H_te, _, _ = self._human(enc_te)
        p_tr = self._decide(self.model_.predict_output(self.pre_.expand(enc_tr)))
        p_te = self._decide(self.model_.predict_output(self.pre_.expand(enc_te)))
        labels = [_jsonable(c) for c in self.classes_] if self.kind == "classification" else None
        # Rule statistics come from the hold-out rows: on its training rows the model mostly
        # repeats the labels it learnt, so precision and agreement would coincide there.
        rules = surrogate_rules(
            H_tr, p_tr, y_tr, names, kinds, H_te, p_te,
            y_true_holdout=y_te, kind=self.kind, class_labels=labels, seed=self.seed,
            deadline=budget.end,
        )
        if rules.get("stopped"):
            budget.cut("rules", f"surrogate search stopped at depth {rules['depth']} (time budget)")
        return rules

    def rules(self) -> dict[str, Any]:
        """Surrogate decision-tree rules of the fitted model (also ``report_["rules"]``)."""
        self._check_fitted()
        return dict(self.report_["rules"])

    # ------------------------------------------------------------------ predict
    def background_records(self) -> list[dict[str, Any]]:
        """The estimator's stored background rows (its LIME reference sample) as input records.

        The rows are kept encoded and imputed (category codes, with ``len(categories)`` for a
        value outside the known categories); they are decoded so that :meth:`explain` sees
        what a caller would send. Empty for an estimator without background rows.
        """
        self._check_fitted()
        pre, background = self.pre_, getattr(self, "background_", None)
        if background is None:
            return []
        rows = np.asarray(background, dtype=float)
        n_num, n_bool = len(pre.numeric), len(pre.boolean)
        records = []
        for row in rows:
            record: dict[str, Any] = {col: float(row[j]) for j, col in enumerate(pre.numeric)}
            record.update({col: bool(row[n_num + j]) for j, col in enumerate(pre.boolean)})
            for j, (col, cats) in enumerate(zip(pre.categorical, pre.categories, strict=True)):
                code = int(row[n_num + n_bool + j])
                record[col] = cats[code] if 0 <= code < len(cats) else _outside_categories(cats)
            records.append(record)
        return records

    def holdout_rows(self) -> np.ndarray | None:
        """Row numbers, in the table given to ``fit``, of the hold-out split (None once loaded)."""
        return getattr(self, "holdout_rows_", None)

    def row_scorer(self, frame: pd.DataFrame, target: str) -> Callable[[np.ndarray], dict[str, float]]:
        """The hold-out report's metrics (every selection metric among them) on any selection of the
        labelled rows, at the tuned threshold; a class the model never learnt counts against it."""
        self._check_fitted()
        if target not in frame.columns:
            raise InvalidInput(f"no column {target!r} with the true outcomes among the rows to score")
        out = self.model_.predict_output(self.pre_.expand(self.pre_.encode(frame)))
        labels = frame[target].to_numpy(dtype=object)
        classes = list(self.classes_) if self.kind == "classification" else []

        def scores(take: np.ndarray) -> dict[str, float]:
            report = M.report_on_labels(self.kind, labels[take].tolist(), out[take], classes, self.threshold_)
            return M.scalar_metrics(report)

        return scores

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFitted("this TabularEstimator is not fitted yet; call fit() or load()")

    def _decide(self, out: np.ndarray) -> np.ndarray:
        return M.labels_at_threshold(out, self.threshold_) if self.kind == "classification" else out

    def _rows(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list[list[str]]]:
        pairs = [self.pre_.record_row(r) for r in records]
        if not pairs:
            return np.empty((0, self.pre_.n_columns)), []
        return np.vstack([p[0] for p in pairs]), [p[1] for p in pairs]

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One result per record: ``{"label", "probabilities", "warnings"}`` or ``{"value", "warnings"}``."""
        self._check_fitted()
        X, warns = self._rows(records)
        if not len(X):
            return []
        out = self.model_.predict_output(X)
        if self.kind == "regression":
            return [{"value": float(v), "warnings": w} for v, w in zip(out.tolist(), warns, strict=True)]
        labels = self._decide(out)
        keys = [str(c) for c in self.classes_]
        classes = [_jsonable(c) for c in self.classes_]
        return [
            {"label": classes[k], "probabilities": dict(zip(keys, p, strict=True)), "warnings": w}
            for k, p, w in zip(labels.tolist(), out.tolist(), warns, strict=True)
        ]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Vectorised batch scoring: ``prediction`` (and ``proba_<class>`` for classification)."""
        self._check_fitted()
        enc = self.pre_.encode(frame)
        for w in self.pre_.unseen_warnings(frame, enc):
            logger.warning(w)
        out = self.model_.predict_output(self.pre_.expand(enc))
        if self.kind == "regression":
            return pd.DataFrame({"prediction": out}, index=frame.index)
        labels = np.array(self.classes_, dtype=object)[self._decide(out)]
        cols = {"prediction": labels, **{f"proba_{c}": out[:, k] for k, c in enumerate(self.classes_)}}
        return pd.DataFrame(cols, index=frame.index)

    def frame_answers(self, scored: pd.DataFrame) -> list[dict[str, Any]]:
        """Rows of :meth:`predict_frame` as :meth:`predict` answers them (without warnings)."""
        return scored_answers(scored, self.kind, self.classes_)

    def raw_output(self, records: Sequence[Mapping[str, Any]]) -> list[float]:
        """The model's raw output per record (what SHAP explains): log-odds, probability or value."""
        return [e["output"] for e in self.explain(records)]

    def to_onnx(self, metadata: dict[str, str] | None = None) -> bytes:
        """The model with its preprocessing as one ONNX graph on the raw input columns, answering
        as :meth:`predict_frame` does (see :mod:`shopfloor.tasks.tabular.onnx_export`)."""
        from shopfloor.tasks.tabular.onnx_export import to_onnx

        self._check_fitted()
        classes = [_jsonable(c) for c in self.classes_]
        return to_onnx(self.pre_, self.model_, classes, self.threshold_, metadata)

    # ------------------------------------------------------------------ explain
    def _class_index(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "regression":
            return np.zeros(len(X), dtype=int)
        if len(self.classes_) == 2:
            return np.ones(len(X), dtype=int)
        return np.asarray(self.model_.predict_output(X).argmax(axis=1), dtype=int)

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """Per record: base value, raw output, its space, class and signed contributions per input.

        ``method="shap"``: exact and additive (base + sum(contributions) == output);
        ``"lime"``: LIME local weights on the probability (or value) scale, not additive.
        """
        self._check_fitted()
        if method not in ("shap", "lime"):
            raise InvalidInput(f"unknown explanation method {method!r}; use 'shap' or 'lime'")
        X, _ = self._rows(records)
        if not len(X):
            return []
        cls = self._class_index(X)
        label = [(_jsonable(self.classes_[k]) if self.kind == "classification" else None) for k in cls]
        if method == "lime":
            return self._explain_lime(records, X, cls, label)
        base, contrib, output = self.model_.contributions(X, cls)
        out = []
        for i, (by_input, by_cons) in enumerate(
            attribute_to_inputs(contrib, self.pre_.columns(), self.pre_.inputs)
        ):
            out.append(
                {
                    "method": "shap",
                    "base_value": float(base[i]),
                    "output": float(output[i]),
                    "output_space": self.model_.output_space,
                    "class": label[i],
                    "contributions": by_input,
                    "constructed": by_cons,
                }
            )
        return out

    def _impute_inputs(self, enc: np.ndarray) -> np.ndarray:
        enc = enc.copy()
        pre = self.pre_
        fills = pre.medians + pre.bool_fill + [float(f) for f in pre.cat_fill]
        for j, fill in enumerate(fills):
            enc[np.isnan(enc[:, j]), j] = fill
        n_cat0 = len(pre.numeric) + len(pre.boolean)
        for j, cats in enumerate(pre.categories):
            col = enc[:, n_cat0 + j]
            col[col < 0] = len(cats)  # unseen -> an explicit "(other)" level for LIME
        return enc

    def _explain_lime(
        self, records: Sequence[Mapping[str, Any]], X: np.ndarray, cls: np.ndarray, label: list[Any]
    ) -> list[dict[str, Any]]:
        pre = self.pre_
        enc = self._impute_inputs(pre.encode(pd.DataFrame(list(records))))
        n_cat0 = len(pre.numeric) + len(pre.boolean)

        def predict_fn(data: np.ndarray) -> np.ndarray:
            data = data.copy()
            for j, cats in enumerate(pre.categories):
                col = data[:, n_cat0 + j]
                col[col >= len(cats)] = -1
            return self.model_.predict_output(pre.expand(data))

        cat_idx = list(range(n_cat0, len(pre.inputs)))
        cat_names = {n_cat0 + j: [*cats, "(other)"] for j, cats in enumerate(pre.categories)}
        mode = "regression" if self.kind == "regression" else "classification"
        res = lime_weights(
            predict_fn,
            np.asarray(self.background_),
            enc,
            pre.inputs,
            categorical_features=cat_idx,
            categorical_names=cat_names,
            mode=mode,
            class_index=cls.tolist(),
            seed=self.seed,
        )
        out_all = self.model_.predict_output(X)
        outputs = out_all if self.kind == "regression" else out_all[np.arange(len(X)), cls]
        return [
            {
                "method": "lime",
                "base_value": r["intercept"],
                "output": float(outputs[i]),
                "output_space": "value" if self.kind == "regression" else "probability",
                "class": label[i],
                "contributions": r["weights"],
                "constructed": {},
                "local_prediction": r["local_prediction"],
                "score": r["score"],
            }
            for i, r in enumerate(res)
        ]

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        """``estimator.json`` (state, report, schema, preprocessing, background) plus the model file."""
        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": self.get_params(),
            "classes": [_jsonable(c) for c in self.classes_],
            "threshold": self.threshold_,
            "preprocessor": self.pre_.to_json(),
            "model": TabularModel.state(self.model_),
            "input_schema": self.input_schema_,
            "background": np.asarray(self.background_).tolist(),
            "report": self.report_,
        }
        return {ESTIMATOR_FILE: json.dumps(state, allow_nan=True).encode(), **self.model_.files()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild a fitted estimator from :meth:`save` output (raises :class:`ArtifactCorrupted`)."""
        try:
            state = read_state(files, ESTIMATOR_FILE, FORMAT_VERSION, "tabular")
            est = cls(**state["params"])
            est.classes_, est.threshold_ = state["classes"], state["threshold"]
            est.pre_ = Preprocessor.from_json(state["preprocessor"])
            est.model_ = load_model(state["model"], files)
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"tabular artifact cannot be read: {exc}") from exc
        est.input_schema_, est.report_ = state["input_schema"], state["report"]
        est.background_ = np.array(state["background"], dtype=float)
        return est


def _outside_categories(categories: Sequence[str]) -> str:
    """A category name the model never saw: encoded as "no known category", as in training."""
    name = "(other)"
    while name in categories:
        name += "_"
    return name

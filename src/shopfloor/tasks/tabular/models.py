"""Candidate models for tabular tasks and their safe persistence (JSON, LightGBM text, skops).

Every model works on the numeric *model matrix* built by
:class:`~shopfloor.tasks.tabular.features.Preprocessor` (LightGBM therefore never sees
the real column names, which may contain characters it rejects). Classification
models output a probability matrix ``(n, n_classes)``; regression models a vector.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from shopfloor.errors import ArtifactCorrupted, InvalidInput
from shopfloor.explain.contributions import linear_contributions
from shopfloor.threads import job_threads

logger = logging.getLogger(__name__)

FAMILIES = ("linear", "random_forest", "lightgbm")
#: The only types skops may rebuild from ``model.skops`` (anything else refuses to load).
SKOPS_TRUSTED = [
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
]
#: file names a tabular model artifact may use, by family
MODEL_FILES = {"linear": "model.json", "random_forest": "model.skops", "lightgbm": "model.lgb.txt"}


def _balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(float)
    per_class = len(y) / (n_classes * np.maximum(counts, 1.0))
    return np.asarray(per_class[y], dtype=float)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _stop_at(deadline: float, stopped: list[bool]) -> Any:
    """A LightGBM callback that ends training once ``time.perf_counter()`` passes ``deadline``
    (the trees grown so far are kept) and then sets ``stopped[0]``: a booster that grew fewer trees
    because no split was left is not one the deadline stopped."""
    import time

    import lightgbm as lgb

    def callback(env: Any) -> None:
        if env.iteration > 0 and time.perf_counter() > deadline:
            stopped[0] = True
            raise lgb.callback.EarlyStopException(env.iteration, [])

    callback.order = 30  # type: ignore[attr-defined]
    return callback


class TabularModel:
    """Base class: ``kind`` is "classification" or "regression"; ``n_classes`` is 0 for regression."""

    family = "base"
    output_space = "value"

    def __init__(self, kind: str, n_classes: int, params: Mapping[str, Any], seed: int = 0) -> None:
        self.kind = kind
        self.n_classes = n_classes
        self.params = dict(params)
        self.seed = seed

    @property
    def classification(self) -> bool:
        return self.kind == "classification"

    def fit(self, X: np.ndarray, y: np.ndarray, deadline: float | None = None) -> TabularModel:
        """Fit on the model matrix. ``deadline`` (a ``time.perf_counter`` value): LightGBM adds no
        tree after it (a screen that must fit a time budget); the other families ignore it."""
        raise NotImplementedError

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for classification, values ``(n,)`` for regression."""
        raise NotImplementedError

    def contributions(
        self, X: np.ndarray, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact additive contributions per model-matrix column: ``(base (n,), contrib (n, m), output (n,))``.

        For classification the output is the model's raw score for ``class_index[i]``
        (log-odds for linear and LightGBM, probability for the random forest).
        """
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "kind": self.kind,
            "n_classes": self.n_classes,
            "params": self.params,
            "seed": self.seed,
        }

    def files(self) -> dict[str, bytes]:
        raise NotImplementedError

    @classmethod
    def from_files(cls, state: Mapping[str, Any], files: Mapping[str, bytes]) -> TabularModel:
        raise NotImplementedError


class LinearModel(TabularModel):
    """Standard-scaled L2 logistic regression or ridge; served from stored coefficients."""

    family = "linear"

    def fit(self, X: np.ndarray, y: np.ndarray, deadline: float | None = None) -> LinearModel:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, Ridge

        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        Z = (X - self.mean_) / self.scale_
        if self.classification:
            self.output_space = "log_odds"
            est = LogisticRegression(
                C=self.params.get("C", 1.0),
                class_weight=self.params.get("class_weight"),
                max_iter=500,
                random_state=self.seed,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # a capped solver is fine for a candidate
                est.fit(Z, y)
            coef, intercept = est.coef_, est.intercept_
            if self.n_classes == 2:
                coef = np.vstack([-coef / 2, coef / 2])  # symmetric logits: softmax == sigmoid(w.z + b)
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            elif len(est.classes_) < self.n_classes:  # a fold without some class
                full_c, full_i = np.zeros((self.n_classes, X.shape[1])), np.full(self.n_classes, -30.0)
                full_c[est.classes_], full_i[est.classes_] = coef, intercept
                coef, intercept = full_c, full_i
            self.coef_, self.intercept_ = np.asarray(coef, float), np.asarray(intercept, float)
        else:
            est = Ridge(alpha=self.params.get("alpha", 1.0)).fit(Z, y)
            self.coef_, self.intercept_ = (
                np.asarray(est.coef_, float)[None, :],
                np.array([float(est.intercept_)]),
            )
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(((X - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_)

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        z = self._logits(X)
        return _softmax(z) if self.classification else z[:, 0]

    def contributions(
        self, X: np.ndarray, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Z = (X - self.mean_) / self.scale_
        if self.classification and self.n_classes == 2:
            # binary: always the log-odds of the positive class = (w1 - w0).z + (b1 - b0)
            w = np.repeat((self.coef_[1] - self.coef_[0])[None, :], len(X), axis=0)
            b = np.full(len(X), self.intercept_[1] - self.intercept_[0])
        elif self.classification:
            w, b = self.coef_[class_index], self.intercept_[class_index]
        else:
            w, b = self.coef_[[0] * len(X)], self.intercept_[[0] * len(X)]
        return linear_contributions(w, b, Z)

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
        }

    def files(self) -> dict[str, bytes]:
        return {MODEL_FILES["linear"]: json.dumps(self.state()).encode()}

    @classmethod
    def from_files(cls, state: Mapping[str, Any], files: Mapping[str, bytes]) -> LinearModel:
        s = json.loads(files[MODEL_FILES["linear"]])
        model = cls(s["kind"], s["n_classes"], s["params"], s["seed"])
        model.mean_, model.scale_ = np.array(s["mean"], float), np.array(s["scale"], float)
        model.coef_, model.intercept_ = np.array(s["coef"], float), np.array(s["intercept"], float)
        if model.classification:
            model.output_space = "log_odds"
        return model


class ForestModel(TabularModel):
    """sklearn random forest; explained with shap's exact TreeExplainer (probability space)."""

    family = "random_forest"

    def _set_space(self) -> None:
        self.output_space = "probability" if self.classification else "value"

    def fit(self, X: np.ndarray, y: np.ndarray, deadline: float | None = None) -> ForestModel:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        self._set_space()
        common = {
            "n_estimators": int(self.params.get("n_estimators", 200)),
            "min_samples_leaf": int(self.params.get("min_samples_leaf", 1)),
            "max_features": self.params.get("max_features", "sqrt"),
            "n_jobs": job_threads(),
            "random_state": self.seed,
        }
        if self.classification:
            est: Any = RandomForestClassifier(class_weight=self.params.get("class_weight"), **common)
        else:
            est = RandomForestRegressor(**common)
        est.fit(X, y)
        est.n_jobs = 1  # serving path: single thread, no joblib start-up per call
        self.est_ = est
        return self

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        if not self.classification:
            return np.asarray(self.est_.predict(X), float)
        proba = self.est_.predict_proba(X)
        if proba.shape[1] == self.n_classes:
            return np.asarray(proba, float)
        full = np.zeros((len(X), self.n_classes))
        full[:, self.est_.classes_.astype(int)] = proba
        return full

    def contributions(
        self, X: np.ndarray, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from shopfloor.explain.contributions import tree_shap_contributions

        cols = np.searchsorted(self.est_.classes_.astype(int), class_index) if self.classification else None
        return tree_shap_contributions(self.est_, X, cols)

    def files(self) -> dict[str, bytes]:
        import skops.io

        return {MODEL_FILES["random_forest"]: skops.io.dumps(self.est_)}

    @classmethod
    def from_files(cls, state: Mapping[str, Any], files: Mapping[str, bytes]) -> ForestModel:
        import skops.io

        data = files[MODEL_FILES["random_forest"]]
        unknown = [t for t in skops.io.get_untrusted_types(data=data) if t not in SKOPS_TRUSTED]
        if unknown:
            raise ArtifactCorrupted(f"model.skops holds unexpected types: {unknown}")
        model = cls(state["kind"], state["n_classes"], state["params"], state["seed"])
        model._set_space()
        model.est_ = skops.io.loads(data, trusted=SKOPS_TRUSTED)
        return model


class BoostedModel(TabularModel):
    """LightGBM booster trained with the native API; exact TreeSHAP via ``pred_contrib``."""

    family = "lightgbm"

    def _lgb_params(self) -> dict[str, Any]:
        p = self.params
        params: dict[str, Any] = {
            "learning_rate": p.get("learning_rate", 0.05),
            "num_leaves": p.get("num_leaves", 31),
            "min_data_in_leaf": p.get("min_data_in_leaf", 20),
            "feature_fraction": p.get("feature_fraction", 0.9),
            "bagging_fraction": p.get("bagging_fraction", 1.0),
            "bagging_freq": 1 if p.get("bagging_fraction") else 0,
            "lambda_l2": p.get("lambda_l2", 1.0),
            "verbose": -1,
            "seed": self.seed,
            "num_threads": 1,
            "deterministic": True,
            "force_row_wise": True,
            "max_bin": p.get("max_bin", 255),
            "min_data_in_bin": p.get("min_data_in_bin", 3),
        }
        if not self.classification:
            params["objective"] = "regression"
        elif self.n_classes == 2:
            params["objective"] = "binary"
        else:
            params.update(objective="multiclass", num_class=self.n_classes)
        return params

    def fit(self, X: np.ndarray, y: np.ndarray, deadline: float | None = None) -> BoostedModel:
        import lightgbm as lgb

        self.output_space = "log_odds" if self.classification else "value"
        weight = None
        if self.classification and self.params.get("class_weight") == "balanced":
            weight = _balanced_weights(y, self.n_classes)
        data = lgb.Dataset(X, label=y, weight=weight, free_raw_data=True, params={"verbose": -1})
        stopped = [False]
        self.booster_ = lgb.train(
            self._lgb_params(),
            data,
            num_boost_round=int(self.params.get("n_estimators", 200)),
            callbacks=[_stop_at(deadline, stopped)] if deadline is not None else None,
        )
        #: True when the deadline ended training before all its trees were grown
        self.stopped_ = stopped[0]
        return self

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(X, raw_score=True, num_threads=1))

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        raw = self._raw(X)
        if not self.classification:
            return raw
        if self.n_classes == 2:
            p1 = _sigmoid(raw)
            return np.column_stack([1.0 - p1, p1])
        return _softmax(raw)

    def contributions(
        self, X: np.ndarray, class_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        contrib = np.asarray(self.booster_.predict(X, pred_contrib=True, num_threads=1))
        m = X.shape[1]
        rows = np.arange(len(X))
        if self.classification and self.n_classes > 2:
            contrib = contrib.reshape(len(X), self.n_classes, m + 1)[rows, class_index]
        # binary: always the log-odds of the positive class (class_index is ignored)
        return contrib[:, m], contrib[:, :m], contrib.sum(axis=1)

    def files(self) -> dict[str, bytes]:
        return {MODEL_FILES["lightgbm"]: self.booster_.model_to_string().encode()}

    @classmethod
    def from_files(cls, state: Mapping[str, Any], files: Mapping[str, bytes]) -> BoostedModel:
        import lightgbm as lgb

        model = cls(state["kind"], state["n_classes"], state["params"], state["seed"])
        model.output_space = "log_odds" if model.classification else "value"
        model.booster_ = lgb.Booster(model_str=files[MODEL_FILES["lightgbm"]].decode())
        return model


_CLASSES: dict[str, type[TabularModel]] = {
    "linear": LinearModel,
    "random_forest": ForestModel,
    "lightgbm": BoostedModel,
}


def make_model(
    family: str, kind: str, n_classes: int, params: Mapping[str, Any], seed: int = 0
) -> TabularModel:
    """A new, unfitted model of ``family``."""
    if family not in _CLASSES:
        raise InvalidInput(f"unknown model family {family!r}")
    return _CLASSES[family](kind, n_classes, params, seed)


def load_model(state: Mapping[str, Any], files: Mapping[str, bytes]) -> TabularModel:
    """Rebuild a fitted model from :meth:`TabularModel.state` and :meth:`TabularModel.files`."""
    family = state.get("family")
    if family not in _CLASSES:
        raise ArtifactCorrupted(f"unknown model family {family!r} in artifact")
    return _CLASSES[str(family)].from_files(state, files)


def candidate_grid(
    kind: str, n_rows: int, budget_s: float, imbalanced: bool
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, family, params)`` candidates, cheapest first, scaled to the time budget."""
    small = budget_s < 60
    trees = 100 if small else 250
    weights: list[str | None] = [None, "balanced"] if kind == "classification" and imbalanced else [None]
    out: list[tuple[str, str, dict[str, Any]]] = []
    if kind == "classification":
        for cw in weights:
            out.append((f"logistic{'-balanced' if cw else ''}", "linear", {"C": 1.0, "class_weight": cw}))
    else:
        out.append(("ridge", "linear", {"alpha": 1.0}))
    rf_w = [None, "balanced_subsample"] if len(weights) > 1 and not small else [None]
    for cw in rf_w:
        out.append(
            (
                f"random_forest{'-balanced' if cw else ''}",
                "random_forest",
                {"n_estimators": trees, "min_samples_leaf": 1, "class_weight": cw},
            )
        )
    fine = {"max_bin": 1023, "min_data_in_bin": 1}  # fine bins: failure modes sit in the tails
    lgb_grid: list[dict[str, Any]] = [
        {
            "learning_rate": 0.05,
            "num_leaves": 15,
            "n_estimators": 300,
            "min_data_in_leaf": 5,
            "lambda_l2": 0.0,
            **fine,
        },
        {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "n_estimators": 400,
            "min_data_in_leaf": 5,
            "feature_fraction": 0.8,
            **fine,
        },
        {
            "learning_rate": 0.05,
            "num_leaves": 7,
            "n_estimators": 800,
            "min_data_in_leaf": 3,
            "lambda_l2": 0.0,
            "feature_fraction": 1.0,
            **fine,
        },
        {
            "learning_rate": 0.05,
            "num_leaves": 15,
            "n_estimators": 300,
            "min_data_in_leaf": 5,
            "lambda_l2": 0.0,
            "max_bin": 4095,
            "min_data_in_bin": 1,
        },
    ]
    if small:
        lgb_grid = [dict(lgb_grid[0], n_estimators=200)]
    for i, params in enumerate(lgb_grid):
        for cw in weights if i < 2 else [None]:
            out.append(
                (f"lightgbm-{i}{'-balanced' if cw else ''}", "lightgbm", {**params, "class_weight": cw})
            )
    if n_rows > 200_000:  # the forest gets slow and rarely wins on big tables
        out = [c for c in out if c[1] != "random_forest"]
    return out


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None

"""The feature models a signal classifier compares: LightGBM and a standardised logistic regression,
with their contributions, saved as LightGBM text and JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from shopfloor.tasks.signals import features as F

FEATURE_MODELS = ("lightgbm", "logistic")


class FeatureModel:
    """One candidate on window features: ``fit(x, y)``, ``proba(x)``, ``contributions(x, k)``."""

    def __init__(self, kind: str, n_classes: int, seed: int = 0) -> None:
        self.kind, self.n_classes, self.seed = kind, n_classes, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> FeatureModel:
        self.fill_ = np.nan_to_num(F.nan_stat(np.nanmedian, x), nan=0.0)
        if self.kind == "lightgbm":
            import lightgbm as lgb

            params = {
                "objective": "multiclass" if self.n_classes > 2 else "binary",
                "num_class": self.n_classes if self.n_classes > 2 else 1,
                "learning_rate": 0.1,
                "num_leaves": 15,
                "min_data_in_leaf": 5,
                "feature_fraction": 0.8,
                "bagging_fraction": 0.8,
                "bagging_freq": 1,
                "seed": self.seed,
                "verbose": -1,
                "num_threads": 1,
            }
            self.booster_ = lgb.train(params, lgb.Dataset(x, y), num_boost_round=150)
            return self
        from sklearn.linear_model import LogisticRegression

        filled = self._filled(x)
        self.mean_, self.scale_ = filled.mean(axis=0), filled.std(axis=0) + 1e-9
        # a fold may lack a class (one recording of it): that class gets a very low score
        present = np.unique(y)
        coef = np.zeros((self.n_classes, x.shape[1]))
        intercept = np.full(self.n_classes, -30.0)
        intercept[present] = 0.0
        if len(present) > 1:
            model = LogisticRegression(C=1.0, max_iter=2000).fit((filled - self.mean_) / self.scale_, y)
            if len(present) == 2:
                coef[present] = [-model.coef_[0] / 2, model.coef_[0] / 2]
                intercept[present] = [-model.intercept_[0] / 2, model.intercept_[0] / 2]
            else:
                coef[present], intercept[present] = model.coef_, model.intercept_
        self.coef_, self.intercept_ = coef, intercept
        return self

    def _filled(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), self.fill_, x)

    def _logits(self, x: np.ndarray) -> np.ndarray:
        return ((self._filled(x) - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def proba(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "lightgbm":
            p = np.asarray(self.booster_.predict(x))  # dense input: an array
            return np.column_stack([1 - p, p]) if p.ndim == 1 else p
        z = self._logits(x)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def contributions(self, x: np.ndarray, k: int) -> np.ndarray:
        """Each feature's part in class ``k``'s raw score (log-odds), per window: (windows, features)."""
        if self.kind == "lightgbm":
            raw = np.asarray(self.booster_.predict(x, pred_contrib=True))
            width = x.shape[1] + 1
            if self.n_classes > 2:
                return raw[:, k * width : k * width + x.shape[1]]
            sign = 1.0 if k == 1 else -1.0
            return sign * raw[:, : x.shape[1]]
        scaled = (self._filled(x) - self.mean_) / self.scale_
        return scaled * self.coef_[k]

    def to_json(self) -> dict[str, Any]:
        state: dict[str, Any] = {"kind": self.kind, "n_classes": self.n_classes, "fill": self.fill_.tolist()}
        if self.kind == "lightgbm":
            state["booster"] = self.booster_.model_to_string()
        else:
            state.update(
                mean=self.mean_.tolist(),
                scale=self.scale_.tolist(),
                coef=self.coef_.tolist(),
                intercept=self.intercept_.tolist(),
            )
        return state

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> FeatureModel:
        model = cls(state["kind"], int(state["n_classes"]))
        model.fill_ = np.asarray(state["fill"], dtype=float)
        if model.kind == "lightgbm":
            import lightgbm as lgb

            model.booster_ = lgb.Booster(model_str=state["booster"])
        else:
            model.mean_, model.scale_ = np.asarray(state["mean"]), np.asarray(state["scale"])
            model.coef_, model.intercept_ = np.asarray(state["coef"]), np.asarray(state["intercept"])
        return model


def dumps(model: FeatureModel) -> bytes:
    return json.dumps(model.to_json()).encode()

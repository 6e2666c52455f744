"""A tiny task family kept outside ``src/`` (the family recipe of docs/adding-a-family.md).

``mean_regression`` predicts the mean of the target it was trained on, whatever the inputs. It
is all a family needs: a declaration (``TASKS``, light to import) and an estimator that inherits
:class:`~shopfloor.tasks.base.BaseEstimator` and follows the protocol. Registered with
:func:`shopfloor.tasks.catalog.register`, it is trained and served through the API, SDK and CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import pandas as pd

from shopfloor.errors import InvalidInput, NotFitted
from shopfloor.tasks.base import BaseEstimator, Capabilities, Outcomes, ProgressFn, TaskSpec, no_progress

MEAN = Capabilities(
    inputs="table",
    target="given",
    prediction="regression",
    explain=("shap",),
    batch=True,
    outcomes=Outcomes("value", "prediction", metrics=("rmse", "mae")),  # feedback: the true value
)

TASKS = (TaskSpec("mean_regression", "mean_family:MeanRegressor", MEAN),)


class MeanRegressor(BaseEstimator):
    """The target's mean at training; every input contributes nothing."""

    declared: ClassVar[Mapping[str, Capabilities]] = {"mean_regression": MEAN}
    task: ClassVar[str] = "mean_regression"

    def __init__(
        self,
        metric: str | None = None,
        seed: int = 0,
        time_budget_s: float = 60.0,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.metric = metric
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.column_types = column_types

    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self:
        if target not in frame.columns:
            raise InvalidInput(f"no column {target!r} to learn the mean of")
        y = pd.to_numeric(frame[target], errors="coerce")
        self.mean_ = float(y.mean())
        inputs = [c for c in frame.columns if c != target]
        self.input_schema_ = [{"name": c, "type": "numeric"} for c in inputs]
        rmse = float(((y - self.mean_) ** 2).mean() ** 0.5)
        self.report_ = {"task": self.task, "kind": "regression", "target": target, "metrics": {"rmse": rmse}}
        progress(1.0, "done", "the mean is known")
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise NotFitted("fit the model first")

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self._check_fitted()
        return [{"prediction": self.mean_, "warnings": []} for _ in records]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
        return pd.DataFrame({"prediction": self.mean_}, index=frame.index)

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        self._check_fitted()
        if method not in MEAN.explain:
            raise InvalidInput(f"unknown explanation method {method!r}; use 'shap'")
        names = [c["name"] for c in self.input_schema_]
        none = dict.fromkeys(names, 0.0)
        return [{"method": "shap", "base": self.mean_, "contributions": none} for _ in records]

    def save(self) -> dict[str, bytes]:
        self._check_fitted()
        state = {"mean": self.mean_, "input_schema": self.input_schema_, "report": self.report_}
        return {"mean.json": json.dumps(state).encode()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        state = json.loads(files["mean.json"])
        est = cls()
        est.mean_, est.input_schema_, est.report_ = state["mean"], state["input_schema"], state["report"]
        return est

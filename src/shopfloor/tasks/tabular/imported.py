"""Models trained elsewhere and imported as files: ONNX, LightGBM text, XGBoost JSON/UBJ, or skops.

:class:`ImportedModel` follows the estimator protocol (it is never trained here: ``fit``
raises). Inputs are a numeric matrix with one column per ``input_schema`` entry, in
order: numbers as floats, booleans as 0/1, a categorical value as its index in the entry's
``categories`` (as pandas categorical codes; unknown -> missing, with a warning).
Loading never unpickles: ONNX runs in an ``onnxruntime.InferenceSession``, LightGBM is
``lgb.Booster(model_str=...)``, XGBoost is ``xgboost.Booster().load_model(bytearray)`` (when the
server has xgboost), skops is ``skops.io.loads`` with :data:`TRUSTED` only.
An ONNX model with one input per schema column (named as the columns, as Shopfloor's own ONNX
export) is fed the raw values by name (numbers as doubles or floats, categories as strings,
missing as NaN or ""); its ``proba_<class>`` outputs are the probabilities.
Artifacts: ``imported.json`` (manifest) plus the original file, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.security.pickles import PICKLE_HINT as PICKLE_HINT  # kept importable from here
from shopfloor.security.pickles import looks_like_pickle as looks_like_pickle
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.tabular import IMPORTED_CLASSIFICATION, IMPORTED_REGRESSION
from shopfloor.tasks.tabular import imported_runtime as runtime
from shopfloor.tasks.tabular.answers import scored_answers
from shopfloor.tasks.tabular.models import SKOPS_TRUSTED

MANIFEST = "imported.json"
MODEL_FILES = {
    "onnx": "model.onnx",
    "lightgbm": "model.lgb.txt",
    "xgboost": "model.xgb",
    "skops": "model.skops",
}

_SK = "sklearn."
#: skops types an imported file may hold (beyond skops' own defaults)
TRUSTED = sorted(
    {
        *SKOPS_TRUSTED,
        *(
            _SK + t
            for t in (
                "linear_model._logistic.LogisticRegression",
                "linear_model._base.LinearRegression",
                "linear_model._ridge.Ridge",
                "linear_model._ridge.RidgeClassifier",
                "ensemble._forest.ExtraTreesClassifier",
                "ensemble._forest.ExtraTreesRegressor",
                "ensemble._gb.GradientBoostingClassifier",
                "ensemble._gb.GradientBoostingRegressor",
                "ensemble._gb.GradientBoostingClassifier",
                "dummy.DummyClassifier",
                "dummy.DummyRegressor",
                "pipeline.Pipeline",
                "preprocessing._data.StandardScaler",
                "preprocessing._data.MinMaxScaler",
                "_loss.loss.HalfBinomialLoss",
                "_loss.loss.HalfSquaredError",
                "_loss.loss.HalfMultinomialLoss",
                "_loss.link.LogitLink",
                "_loss.link.IdentityLink",
                "_loss.link.MultinomialLogit",
                "_loss.link.Interval",
            )
        ),
    }
)
TREE_TYPES = ("DecisionTree", "RandomForest", "ExtraTrees", "GradientBoosting")


class ImportedModel(BaseEstimator):
    """An imported classifier or regressor. ``kind``: "classification" or "regression"."""

    declared: ClassVar[Mapping[str, Capabilities]] = {
        "imported_classification": IMPORTED_CLASSIFICATION,
        "imported_regression": IMPORTED_REGRESSION,
    }


    input_schema_: list[dict[str, Any]]
    report_: dict[str, Any]
    classes_: list[Any]

    def __init__(
        self,
        kind: str = "classification",
        format: str = "lightgbm",  # noqa: A002 - the request field's name
        input_schema: list[dict[str, Any]] | None = None,
        classes: list[Any] | None = None,
    ) -> None:
        self.kind = kind
        self.format = format
        self.input_schema = input_schema
        self.classes = classes

    @property
    def task(self) -> str:
        return f"imported_{self.kind}"

    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self:
        raise InvalidInput(
            "imported models are not trained here: upload a new file with POST /v1/models/{name}/versions, "
            "or train a tabular_classification / tabular_regression model"
        )

    # ------------------------------------------------------------------ building
    @classmethod
    def from_file(
        cls,
        data: bytes,
        *,
        kind: str,
        format: str,
        input_schema: list[dict[str, Any]],  # noqa: A002
        classes: list[Any] | None = None,
    ) -> Self:
        """Parse and check a file (a probe record must predict); raises :class:`InvalidInput`."""
        est = cls(kind=kind, format=format, input_schema=input_schema, classes=classes)
        try:
            est._open(data)
        except InvalidInput:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure means the file is unusable
            raise InvalidInput(f"the {format} file cannot be loaded: {type(exc).__name__}: {exc}") from None
        est.input_schema_ = input_schema
        sha = hashlib.sha256(data).hexdigest()
        est.report_ = {
            "imported": True,
            "format": format,
            "sha256": sha,
            "metrics": {},
            "kind": kind,
            "classes": est.classes_,
        }
        probe = {
            c["name"]: (c.get("categories") or [None])[0] if c["type"] == "categorical" else 0
            for c in input_schema
        }
        try:
            est.predict([probe])
        except Exception as exc:  # noqa: BLE001
            raise InvalidInput(
                f"the model does not run on {len(input_schema)} inputs as described: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        return est

    def _open(self, data: bytes) -> None:
        self.data_ = data
        n = len(self.input_schema or [])
        if self.format == "lightgbm":
            import lightgbm as lgb

            self.runtime_: Any = lgb.Booster(model_str=data.decode("utf-8"))
            if self.runtime_.num_feature() != n:
                raise InvalidInput(
                    f"the model has {self.runtime_.num_feature()} features; input_schema lists {n}"
                )
            k = int(self.runtime_.num_model_per_iteration())
            found = list(range(max(k, 2))) if self.kind == "classification" else []
        elif self.format == "skops":
            import skops.io

            untrusted = [t for t in skops.io.get_untrusted_types(data=data) if t not in TRUSTED]
            if untrusted:
                raise InvalidInput(
                    f"the skops file holds types that are not trusted here: {', '.join(untrusted)}",
                    errors=[{"loc": ["body", "file"], "msg": f"untrusted type {t}"} for t in untrusted],
                )
            self.runtime_ = skops.io.loads(data, trusted=TRUSTED)
            found = [
                v.item() if isinstance(v, np.generic) else v for v in getattr(self.runtime_, "classes_", [])
            ]
        elif self.format == "onnx":
            names = [c["name"] for c in self.input_schema or []]
            self.runtime_, self.named_, found = runtime.open_onnx(data, names, self.kind)
        elif self.format == "xgboost":
            names = [c["name"] for c in self.input_schema or []]
            self.runtime_, found = runtime.open_xgboost(data, names, self.kind)
        else:
            raise InvalidInput(f"unknown format {self.format!r}; use onnx, lightgbm, xgboost or skops")
        self.classes_ = list(self.classes) if self.classes else found

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "runtime_"):
            raise NotFitted("this ImportedModel is not loaded; use from_file() or load()")

    def _matrix(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list[list[str]]]:
        schema = self.input_schema_
        X = np.full((len(records), len(schema)), np.nan)
        warns: list[list[str]] = [[] for _ in records]
        for j, col in enumerate(schema):
            name, kind = col["name"], col["type"]
            cats = [str(c) for c in col.get("categories") or []]
            for i, r in enumerate(records):
                v = r.get(name)
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                if kind == "categorical":
                    if str(v) in cats:
                        X[i, j] = cats.index(str(v))
                    else:
                        warns[i].append(f"{name}: unseen category {v!r} treated as missing")
                elif kind == "boolean":
                    X[i, j] = 1.0 if v in (True, 1, "true", "True", "1") else 0.0
                else:
                    X[i, j] = float(v)
        return X, warns

    def _output(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (n, k) for classification, values (n,) for regression."""
        if self.format == "lightgbm":
            out = np.asarray(self.runtime_.predict(X))
        elif self.format == "xgboost":
            import xgboost as xgb

            order = self.runtime_.feature_names  # the model's own column order, when it names them
            if order:
                names = [c["name"] for c in self.input_schema_]
                X = X[:, [names.index(f) for f in order]]
            out = np.asarray(self.runtime_.predict(xgb.DMatrix(X, feature_names=order)))
        elif self.format == "skops":
            m = self.runtime_
            out = np.asarray(m.predict_proba(X) if self.kind == "classification" else m.predict(X))
        else:
            out = runtime.onnx_matrix(self.runtime_, X, self.kind)
        if self.kind == "regression":
            return out.reshape(len(X), -1)[:, 0].astype(float)
        if out.ndim == 1:
            out = np.column_stack([1 - out, out])
        return out.astype(float)

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``{"label", "probabilities", "warnings"}`` or ``{"value", "warnings"}`` per record."""
        self._check_fitted()
        if not records:
            return []
        X, warns = self._matrix(records)
        decided: list[Any] | None = None
        try:
            if getattr(self, "named_", False):
                out, decided = runtime.onnx_named(self.runtime_, records, self.kind, self.classes_)
            else:
                out = self._output(X)
        except Exception as exc:  # noqa: BLE001 - runtime errors of foreign models become 422s
            raise InvalidInput(f"the imported model could not score these records: {exc}") from None
        if self.kind == "regression":
            return [{"value": float(v), "warnings": w} for v, w in zip(out.tolist(), warns, strict=True)]
        if out.shape[1] != len(self.classes_):
            raise InvalidInput(
                f"the model gives {out.shape[1]} probabilities but {len(self.classes_)} classes"
            )
        keys = [str(c) for c in self.classes_]
        labels = decided or [self.classes_[int(np.argmax(p))] for p in out]
        return [
            {"label": label, "probabilities": dict(zip(keys, p, strict=True)), "warnings": w}
            for label, p, w in zip(labels, out.tolist(), warns, strict=True)
        ]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring: ``prediction`` (and ``proba_<class>``)."""
        records = frame.to_dict(orient="records")
        results = self.predict(records)
        if self.kind == "regression":
            return pd.DataFrame({"prediction": [r["value"] for r in results]}, index=frame.index)
        cols: dict[str, Any] = {"prediction": [r["label"] for r in results]}
        for c in self.classes_:
            cols[f"proba_{c}"] = [r["probabilities"][str(c)] for r in results]
        return pd.DataFrame(cols, index=frame.index)

    def frame_answers(self, scored: pd.DataFrame) -> list[dict[str, Any]]:
        """Rows of :meth:`predict_frame` as :meth:`predict` answers them (without warnings)."""
        return scored_answers(scored, self.kind, self.classes_)

    # ------------------------------------------------------------------ explain
    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """Exact SHAP for LightGBM (``pred_contrib``) and sklearn trees (shap's TreeExplainer)."""
        self._check_fitted()
        if method != "shap":
            raise InvalidInput("imported models explain with method 'shap' only")
        is_tree = self.format == "skops" and any(t in type(self.runtime_).__name__ for t in TREE_TYPES)
        if self.format != "lightgbm" and not is_tree:
            raise InvalidInput("explanations need a LightGBM or tree model")
        X, _ = self._matrix(records)
        if not len(X):
            return []
        names = [c["name"] for c in self.input_schema_]
        n_f = len(names)
        if self.format == "lightgbm":
            raw = np.asarray(self.runtime_.predict(X, pred_contrib=True)).reshape(len(X), -1, n_f + 1)
            space = "value" if self.kind == "regression" else "log-odds"
        else:
            import shap

            expl = shap.TreeExplainer(self.runtime_)
            vals = np.asarray(expl.shap_values(X, check_additivity=False))
            base = np.atleast_1d(np.asarray(expl.expected_value, dtype=float))
            if vals.ndim == 2:
                vals = vals[:, None, :]
            elif vals.shape[0] == len(X) and vals.shape[1] == n_f and vals.shape[2] == len(base):
                vals = np.transpose(vals, (0, 2, 1))  # shap >= 0.45: (rows, features, classes)
            elif vals.shape[0] != len(X):  # older shap: (classes, rows, features)
                vals = np.transpose(vals, (1, 0, 2))
            raw = np.concatenate([vals, np.broadcast_to(base[None, :, None], (len(X), len(base), 1))], axis=2)
            space = "value" if self.kind == "regression" else "probability"
        out = []
        for i in range(len(X)):
            k = 0 if raw.shape[1] == 1 else int(np.argmax(raw[i].sum(axis=1)))
            if raw.shape[1] == 2:
                k = 1
            row = raw[i, k]
            label = None if self.kind == "regression" else self.classes_[min(k, len(self.classes_) - 1)]
            if raw.shape[1] == 1 and self.kind == "classification":
                label = self.classes_[-1]
            out.append(
                {
                    "method": "shap",
                    "base_value": float(row[-1]),
                    "output": float(row.sum()),
                    "output_space": space,
                    "class": label,
                    "contributions": dict(zip(names, map(float, row[:-1]), strict=True)),
                    "constructed": {},
                }
            )
        return out

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        """The manifest and the original file."""
        self._check_fitted()
        manifest = {
            "format": self.format,
            "kind": self.kind,
            "input_schema": self.input_schema_,
            "classes": self.classes_,
            "report": self.report_,
        }
        return {MANIFEST: json.dumps(manifest).encode(), MODEL_FILES[self.format]: self.data_}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild from :meth:`save` output without unpickling (raises :class:`ArtifactCorrupted`)."""
        try:
            m = json.loads(files[MANIFEST])
            est = cls(
                kind=m["kind"], format=m["format"], input_schema=m["input_schema"], classes=m["classes"]
            )
            est.input_schema_, est.report_ = m["input_schema"], m["report"]
            est._open(files[MODEL_FILES[m["format"]]])
        except (KeyError, ValueError, TypeError, InvalidInput) as exc:
            raise ArtifactCorrupted(f"imported model artifact cannot be read: {exc}") from exc
        return est

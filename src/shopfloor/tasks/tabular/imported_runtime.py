"""Running imported ONNX and XGBoost files for :class:`~shopfloor.tasks.tabular.imported.ImportedModel`.

An ONNX model takes either one matrix (the schema's columns in order, categories as codes) or one
input per schema column, named as the columns (as Shopfloor's own ONNX export): those are fed the
raw values (numbers as doubles or floats, NaN for missing; categories as strings, "" for missing),
their ``proba_<class>`` outputs are the probabilities and their ``prediction`` output the labels.
XGBoost needs the ``xgboost`` package (``xgboost-cpu``) on the server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput

PROBA = "proba_"
XGBOOST_MISSING = (
    "XGBoost models cannot be loaded here: the server has no xgboost package (install xgboost-cpu "
    "on the server), or export the model to ONNX (onnxmltools) and import that"
)


def check_onnx(data: bytes) -> None:
    """No external-data tensors: they would read files from the server's disk."""
    import onnx

    model = onnx.load_model_from_string(data)
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise InvalidInput("ONNX models with external data are not accepted; embed the weights")


def open_onnx(data: bytes, names: list[str], kind: str) -> tuple[Any, bool, list[Any]]:
    """``(session, fed by name, classes found)``: by name when it has one input per column."""
    import onnxruntime as ort

    check_onnx(data)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    named = len(inputs) > 1 or (inputs == names and len(names) == 1)
    if named and sorted(inputs) != sorted(names):
        raise InvalidInput(f"the ONNX model's inputs are {inputs}; input_schema lists {names}")
    if kind != "classification":
        return session, named, []
    outputs = session.get_outputs()
    labels = [o.name[len(PROBA) :] for o in outputs if o.name.startswith(PROBA)]
    if not labels:
        return session, named, list(range(2))
    numbers = any(o.name == "prediction" and "int" in o.type for o in outputs)
    return session, named, [int(c) for c in labels] if numbers else labels


def open_xgboost(data: bytes, names: Sequence[str], kind: str) -> tuple[Any, list[Any]]:
    """``(booster, classes found)`` of an XGBoost JSON or UBJSON model of the features ``names``
    (when the model names its features, the same names, in any order)."""
    n = len(names)
    try:
        import xgboost as xgb
    except ImportError:
        raise InvalidInput(XGBOOST_MISSING) from None
    booster = xgb.Booster()
    booster.load_model(bytearray(data))
    if booster.num_features() != n:
        raise InvalidInput(f"the model has {booster.num_features()} features; input_schema lists {n}")
    if booster.feature_names and set(booster.feature_names) != set(names):
        raise InvalidInput(
            f"the model's features are {', '.join(booster.feature_names)}; "
            f"input_schema lists {', '.join(names)}"
        )
    learner = json.loads(booster.save_config())["learner"]
    k = int(learner["learner_model_param"].get("num_class", 0) or 0)
    return booster, list(range(max(k, 2))) if kind == "classification" else []


def onnx_matrix(session: Any, X: np.ndarray, kind: str) -> np.ndarray:
    """A one-input model on the matrix: probabilities (or values) as the model gives them."""
    inp = session.get_inputs()[0]
    dtype = np.float64 if "double" in inp.type else np.float32
    outs = session.run(None, {inp.name: X.astype(dtype)})
    names = [o.name for o in session.get_outputs()]
    if kind == "classification":
        k = next((i for i, n in enumerate(names) if "prob" in n.lower()), len(outs) - 1)
        out = outs[k]
        if isinstance(out, list):  # ZipMap: one {class: probability} per row
            out = np.array([[row[c] for c in sorted(row)] for row in out])
        return np.asarray(out)
    return np.asarray(outs[0])


def _feeds(session: Any, records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    feeds: dict[str, np.ndarray] = {}
    for i in session.get_inputs():
        values = [r.get(i.name) for r in records]
        if i.type == "tensor(string)":
            feeds[i.name] = np.array(["" if v is None else str(v) for v in values], dtype=object)
        else:
            dtype = np.float32 if i.type == "tensor(float)" else np.float64
            feeds[i.name] = np.array([math.nan if v is None else float(v) for v in values], dtype=dtype)
        if len(i.shape) == 2:
            feeds[i.name] = feeds[i.name].reshape(-1, 1)
    return feeds


def onnx_named(
    session: Any, records: Sequence[Mapping[str, Any]], kind: str, classes: Sequence[Any]
) -> tuple[np.ndarray, list[Any] | None]:
    """A model with one input per column on the raw values: probabilities ``(n, k)`` from
    ``proba_<class>`` (or values ``(n,)``), and the labels of its ``prediction`` output (a
    classifier's own decision, such as a tuned threshold) when it has one."""
    names = [o.name for o in session.get_outputs()]
    outs = dict(zip(names, session.run(None, _feeds(session, records)), strict=True))
    if kind == "regression":
        return np.asarray(outs.get("prediction", outs[names[0]]), dtype=float).reshape(len(records)), None
    probas = [n for n in names if n.startswith(PROBA)]
    if not probas:
        wanted = next((n for n in names if "prob" in n.lower()), names[-1])
        return np.asarray(outs[wanted], dtype=float), None
    by_label = {n[len(PROBA) :]: np.asarray(outs[n], dtype=float).reshape(-1) for n in probas}
    out = np.column_stack([by_label[str(c)] for c in classes])
    if "prediction" not in outs:
        return out, None
    known = {str(c): c for c in classes}
    return out, [known.get(str(v), v) for v in np.asarray(outs["prediction"]).reshape(-1).tolist()]

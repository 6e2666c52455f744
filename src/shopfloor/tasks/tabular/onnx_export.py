"""A trained tabular model as one ONNX graph that takes the raw named columns.

The graph holds everything :class:`~shopfloor.tasks.tabular.estimator.TabularEstimator` does
between a record and its answer, so plain ``onnxruntime`` gives the answers Shopfloor gives:

* inputs: one 1-D tensor per input column, named as the column, in the model's input-schema
  order. Numeric and boolean columns are ``double`` (NaN is missing; a boolean is 1/0, any
  non-zero number is true); categorical columns are ``string`` (an empty string is missing).
* preprocessing (:class:`~shopfloor.tasks.tabular.features.Preprocessor`): median imputation,
  booleans, the constructed pair features (difference, product, ratio with a non-finite ratio
  as 0), one-hot categories (missing -> the most frequent category, unseen -> all zeros).
* the model: the linear model's scaled logits in double precision; LightGBM's trees as one
  ``TreeEnsembleRegressor`` with double thresholds (``ai.onnx.ml`` 3), so no row crosses a
  split that LightGBM's own double comparisons do not; the random forest through skl2onnx on
  float32 inputs, as scikit-learn's trees compare float32 values.
* outputs, named as Shopfloor's batch scoring columns: ``prediction`` (the class label at the
  tuned decision threshold, or the value) and, for a classifier, ``proba_<class>`` per class.

A model of another family raises :class:`~shopfloor.errors.Conflict` naming why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.errors import Conflict
from shopfloor.tasks.tabular.features import Preprocessor
from shopfloor.tasks.tabular.models import BoostedModel, ForestModel, LinearModel, TabularModel

#: the ONNX operator sets the graph uses (ai.onnx.ml 3: trees with double thresholds)
OPSET = 17
ML_OPSET = 3
ML = "ai.onnx.ml"
PREDICTION = "prediction"


def proba_name(label: Any) -> str:
    """The output holding one class's probability (as the batch scoring column)."""
    return f"proba_{label}"


class Graph:
    """A small ONNX graph builder: every call adds one node and returns its output's name."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._count = 0
        self._shared: dict[str, str] = {}

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float64) -> str:
        from onnx import numpy_helper

        array = np.asarray(value, dtype=dtype) if dtype is not object else np.asarray(value, dtype=object)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def shared(self, hint: str, value: Any, dtype: Any = np.float64) -> str:
        """One constant used by many nodes, made when first asked for."""
        if hint not in self._shared:
            self._shared[hint] = self.const(value, hint, dtype)
        return self._shared[hint]

    def op(self, op_type: str, *inputs: str, domain: str = "", out: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        name = out or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], domain=domain, **attrs))
        return name

    def model(self, doc: str, metadata: dict[str, str]) -> bytes:
        from onnx import checker, helper

        graph = helper.make_graph(self.nodes, "shopfloor", self.inputs, self.outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(ML, ML_OPSET)],
            producer_name="shopfloor",
            doc_string=doc,
        )
        model.ir_version = 8  # what onnxruntime releases of the last years all read
        helper.set_model_props(model, metadata)
        checker.check_model(model, full_check=True)
        return bytes(model.SerializeToString())


def preprocessing(g: Graph, pre: Preprocessor) -> str:
    """The input tensors and the nodes that turn them into the model matrix ``(N, m)`` (double)."""
    from onnx import TensorProto, helper

    def column(name: str, elem: int) -> str:
        g.inputs.append(helper.make_tensor_value_info(name, elem, ["N"]))
        return g.op("Unsqueeze", name, g.shared("axis", [1], np.int64))

    nan_to = {}
    for col, med in zip(pre.numeric, pre.medians, strict=True):
        x = column(col, TensorProto.DOUBLE)
        nan_to[col] = g.op("Where", g.op("IsNaN", x), g.const(med, "median"), x)
    blocks = [nan_to[c] for c in pre.numeric]
    for col, fill in zip(pre.boolean, pre.bool_fill, strict=True):
        x = column(col, TensorProto.DOUBLE)
        truth = g.op("Cast", g.op("Not", g.op("Equal", x, g.shared("zero", 0.0))), to=TensorProto.DOUBLE)
        blocks.append(g.op("Where", g.op("IsNaN", x), g.const(fill, "bool_fill"), truth))
    for feature in pre.constructed:
        a, b = (nan_to[s] for s in feature["sources"])
        if feature["op"] == "diff":
            blocks.append(g.op("Sub", a, b))
        elif feature["op"] == "product":
            blocks.append(g.op("Mul", a, b))
        else:  # a non-finite ratio (b == 0) is 0, as in training
            r = g.op("Div", a, b)
            bad = g.op("Or", g.op("IsNaN", r), g.op("IsInf", r))
            blocks.append(g.op("Where", bad, g.shared("zero", 0.0), r))
    for col, cats, fill in zip(pre.categorical, pre.categories, pre.cat_fill, strict=True):
        g.inputs.append(helper.make_tensor_value_info(col, TensorProto.STRING, ["N"]))
        keys = [*cats, *([""] if "" not in cats else [])]  # "" is missing -> the most frequent
        codes = g.op(
            "LabelEncoder",
            col,
            domain=ML,
            keys_strings=keys,
            values_floats=[float(i) for i in range(len(cats))] + ([float(fill)] if "" not in cats else []),
            default_float=-1.0,
        )
        codes = g.op("Unsqueeze", codes, g.shared("axis", [1], np.int64))
        hot = g.op("Equal", codes, g.const(np.arange(len(cats))[None, :], "levels", np.float32))
        blocks.append(g.op("Cast", hot, to=TensorProto.DOUBLE))
    if not blocks:
        raise Conflict("the model has no input columns to export")
    return g.op("Concat", *blocks, axis=1)


def linear_output(g: Graph, model: LinearModel, X: str) -> str:
    """Probabilities ``(N, k)`` or values ``(N, 1)``, in double precision as served."""
    z = g.op("Div", g.op("Sub", X, g.const(model.mean_, "mean")), g.const(model.scale_, "scale"))
    logits = g.op("Add", g.op("MatMul", z, g.const(model.coef_.T, "coef")), g.const(model.intercept_, "b"))
    return g.op("Softmax", logits, axis=1) if model.classification else logits


def lightgbm_trees(booster: Any) -> dict[str, Any]:
    """The booster's trees as ``TreeEnsembleRegressor`` attributes (one target per class)."""
    from onnx import numpy_helper

    dump = booster.dump_model()
    per_iter = int(dump.get("num_tree_per_iteration", 1))
    a: dict[str, list[Any]] = {k: [] for k in ("tree", "node", "feat", "mode", "value", "yes", "no", "miss")}
    t: dict[str, list[Any]] = {k: [] for k in ("tree", "node", "id", "weight")}
    for tree in dump["tree_info"]:
        tid, target, counter = int(tree["tree_index"]), int(tree["tree_index"]) % per_iter, [0]

        def visit(
            node: dict[str, Any], tid: int = tid, target: int = target, counter: list[int] = counter
        ) -> int:
            me = counter[0]
            counter[0] += 1
            a["tree"].append(tid)
            a["node"].append(me)
            if "leaf_value" in node or "split_index" not in node:
                a["feat"].append(0)
                a["mode"].append("LEAF")
                a["value"].append(0.0)
                a["yes"].append(0)
                a["no"].append(0)
                a["miss"].append(0)
                t["tree"].append(tid)
                t["node"].append(me)
                t["id"].append(target)
                t["weight"].append(float(node.get("leaf_value", 0.0)))
                return me
            if node.get("decision_type") != "<=" or node.get("missing_type") == "Zero":
                raise Conflict(
                    "this LightGBM model has categorical or zero-as-missing splits, which the export "
                    "does not translate"
                )
            k = len(a["feat"])
            a["feat"].append(int(node["split_feature"]))
            a["mode"].append("BRANCH_LEQ")
            a["value"].append(float(node["threshold"]))
            a["yes"].append(0)
            a["no"].append(0)
            a["miss"].append(1 if node.get("default_left") and node.get("missing_type") == "NaN" else 0)
            a["yes"][k] = visit(node["left_child"])
            a["no"][k] = visit(node["right_child"])
            return me

        visit(tree["tree_structure"])
    return {
        "n_targets": per_iter,
        "nodes_treeids": a["tree"],
        "nodes_nodeids": a["node"],
        "nodes_featureids": a["feat"],
        "nodes_modes": a["mode"],
        "nodes_values_as_tensor": numpy_helper.from_array(np.asarray(a["value"], dtype=np.float64)),
        "nodes_truenodeids": a["yes"],
        "nodes_falsenodeids": a["no"],
        "nodes_missing_value_tracks_true": a["miss"],
        "target_treeids": t["tree"],
        "target_nodeids": t["node"],
        "target_ids": t["id"],
        "target_weights_as_tensor": numpy_helper.from_array(np.asarray(t["weight"], dtype=np.float64)),
        "post_transform": "NONE",
        "aggregate_function": "SUM",
    }


def lightgbm_output(g: Graph, model: BoostedModel, X: str) -> str:
    """Raw scores summed over the trees, then the sigmoid or softmax Shopfloor applies."""
    from onnx import TensorProto

    raw = g.op("TreeEnsembleRegressor", X, domain=ML, **lightgbm_trees(model.booster_))
    raw = g.op("Cast", raw, to=TensorProto.DOUBLE)
    if not model.classification:
        return raw
    if model.n_classes == 2:
        p1 = g.op("Sigmoid", raw)
        return g.op("Concat", g.op("Sub", g.const([[1.0]], "one"), p1), p1, axis=1)
    return g.op("Softmax", raw, axis=1)


def forest_output(g: Graph, model: ForestModel, X: str) -> str:
    """skl2onnx's forest on float32 inputs; a class the forest never saw gets probability 0."""
    from onnx import TensorProto, compose
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    est = model.est_
    m = int(est.n_features_in_)
    options = {id(est): {"zipmap": False}} if model.classification else None
    sub = convert_sklearn(
        est,
        initial_types=[("X", FloatTensorType([None, m]))],
        options=options,
        target_opset={"": OPSET, ML: 1},
    )
    sub = compose.add_prefix(sub, prefix=g.name("forest") + "_")
    g.op("Cast", X, to=TensorProto.FLOAT, out=sub.graph.input[0].name)
    g.nodes.extend(sub.graph.node)
    g.initializers.extend(sub.graph.initializer)
    wanted = sub.graph.output[-1].name if model.classification else sub.graph.output[0].name
    out = g.op("Cast", wanted, to=TensorProto.DOUBLE)
    if not model.classification:
        return out
    seen = est.classes_.astype(int)
    if len(seen) != model.n_classes:
        spread = np.zeros((len(seen), model.n_classes))
        spread[np.arange(len(seen)), seen] = 1.0
        out = g.op("MatMul", out, g.const(spread, "spread"))
    return out


def model_output(g: Graph, model: TabularModel, X: str) -> str:
    if isinstance(model, LinearModel):
        return linear_output(g, model, X)
    if isinstance(model, BoostedModel):
        return lightgbm_output(g, model, X)
    if isinstance(model, ForestModel):
        return forest_output(g, model, X)
    raise Conflict(f"models of the {model.family!r} family cannot be exported to ONNX")


def answers(g: Graph, out: str, kind: str, classes: Sequence[Any], threshold: float | None) -> None:
    """The graph's outputs: ``prediction`` and, for a classifier, ``proba_<class>`` per class."""
    from onnx import TensorProto, helper

    if kind == "regression":
        g.op("Squeeze", out, g.shared("axis", [1], np.int64), out=PREDICTION)
        g.outputs.append(helper.make_tensor_value_info(PREDICTION, TensorProto.DOUBLE, ["N"]))
        return
    for k, label in enumerate(classes):
        name = proba_name(label)
        g.op("Gather", out, g.const(k, "k", np.int64), axis=1, out=name)
        g.outputs.append(helper.make_tensor_value_info(name, TensorProto.DOUBLE, ["N"]))
    if len(classes) == 2 and threshold is not None:
        p1 = g.op("Gather", out, g.const(1, "k", np.int64), axis=1)
        positive = g.op("GreaterOrEqual", p1, g.const(threshold, "threshold"))
        index = g.op("Cast", positive, to=TensorProto.INT64)
    else:
        index = g.op("ArgMax", out, axis=1, keepdims=0)
    numbers = all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
    labels = (
        g.const(list(classes), "classes", np.int64)
        if numbers
        else g.const([str(c) for c in classes], "classes", object)
    )
    g.op("Gather", labels, index, axis=0, out=PREDICTION)
    elem = TensorProto.INT64 if numbers else TensorProto.STRING
    g.outputs.append(helper.make_tensor_value_info(PREDICTION, elem, ["N"]))


def to_onnx(
    pre: Preprocessor,
    model: TabularModel,
    classes: Sequence[Any],
    threshold: float | None,
    metadata: dict[str, str] | None = None,
) -> bytes:
    """The serialized ONNX model of a fitted preprocessor and model (see the module's doc)."""
    g = Graph()
    X = preprocessing(g, pre)
    answers(g, model_output(g, model, X), model.kind, classes, threshold)
    doc = "Shopfloor tabular model: inputs are the raw columns, outputs as Shopfloor's batch scoring"
    meta = {"threshold": "" if threshold is None else repr(float(threshold)), **(metadata or {})}
    return g.model(doc, meta)

"""A trained tabular model as one ONNX graph that takes the raw named columns.

The graph holds everything :class:`~shopfloor.tasks.tabular.estimator.TabularEstimator` does
between a record and its answer, so plain ``onnxruntime`` gives the answers Shopfloor gives:

* inputs: one 1-D tensor per input column, named as the column, in the model's input-schema
  order. Numeric and boolean columns are ``double`` (NaN is missing; a boolean is 1/0, any
  non-zero number is true); categorical columns are ``string`` (an empty string is missing).
* preprocessing (:class:`~shopfloor.tasks.tabular.features.Preprocessor`): median imputation,
  booleans, the constructed pair features (difference, product, ratio with a non-finite ratio
  as 0), one-hot categories (missing -> the most frequent category, unseen -> all zeros).
* the model: the linear model's scaled logits in double precision; the trees of LightGBM and of
  the random forest as one ``TreeEnsemble`` node (``ai.onnx.ml`` 5) with double thresholds and
  leaf weights summed in double, so every row takes the branches the library takes (the forest
  sees its inputs rounded to float32, as scikit-learn's trees do) and a probability lands on the
  same side of the tuned threshold. (The converters of skl2onnx and onnxmltools keep float32
  thresholds and sums: a forest's probability of exactly 0.46 came out as 0.45999983 and
  crossed a threshold of 0.46.)
* outputs, named as Shopfloor's batch scoring columns: ``prediction`` (the class label at the
  tuned decision threshold, or the value) and, for a classifier, ``proba_<class>`` per class.

A model of another family raises :class:`~shopfloor.errors.Conflict` naming why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.errors import Conflict
from shopfloor.tasks.tabular.features import Preprocessor
from shopfloor.tasks.tabular.models import BoostedModel, ForestModel, LinearModel, TabularModel

#: the ONNX operator sets the graph uses (ai.onnx.ml 5: TreeEnsemble, double thresholds and sums)
OPSET = 21
ML_OPSET = 5
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
        model.ir_version = 10  # the IR of opset 21 / ai.onnx.ml 5
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


@dataclass
class FlatTree:
    """One binary tree as parallel arrays (node 0 is the root; ``left[i] == -1`` marks a leaf):
    ``x[feature] <= threshold`` goes left; ``value`` is a leaf's contribution to its target."""

    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    missing_left: list[int] = field(default_factory=list)


class Ensemble:
    """Trees gathered into the attributes of one ``TreeEnsemble`` node (``ai.onnx.ml`` 5): double
    thresholds and leaf weights, summed per target in double precision."""

    def __init__(self, n_targets: int) -> None:
        self.n_targets = n_targets
        self.roots: list[int] = []
        keys = ("feat", "split", "yes", "yes_leaf", "no", "no_leaf", "miss")
        self.nodes: dict[str, list[Any]] = {k: [] for k in keys}
        self.leaf_target: list[int] = []
        self.leaf_weight: list[float] = []

    def _leaf(self, target: int, weight: float) -> int:
        self.leaf_target.append(target)
        self.leaf_weight.append(float(weight))
        return len(self.leaf_weight) - 1

    def _node(self, feat: int, split: float, yes: tuple[int, int], no: tuple[int, int], miss: int) -> int:
        n = self.nodes
        for key, value in (("feat", feat), ("split", split), ("yes", yes[0]), ("yes_leaf", yes[1])):
            n[key].append(value)
        for key, value in (("no", no[0]), ("no_leaf", no[1]), ("miss", miss)):
            n[key].append(value)
        return len(n["feat"]) - 1

    def add(self, tree: FlatTree, target: int) -> None:
        """Add one tree contributing to ``target`` (a lone leaf gets a split both ways lead to it)."""
        if tree.left[0] == -1:
            leaf = (self._leaf(target, tree.value[0]), 1)
            self.roots.append(self._node(0, math.inf, leaf, leaf, 1))
            return
        where: dict[int, tuple[int, int]] = {}
        inner = [i for i in range(len(tree.left)) if tree.left[i] != -1]
        first = len(self.nodes["feat"])
        for k, i in enumerate(inner):
            where[i] = (first + k, 0)
        for i in range(len(tree.left)):
            if tree.left[i] == -1:
                where[i] = (self._leaf(target, tree.value[i]), 1)
        for i in inner:
            yes, no = where[tree.left[i]], where[tree.right[i]]
            self._node(tree.feature[i], tree.threshold[i], yes, no, tree.missing_left[i])
        self.roots.append(where[0][0])

    def output(self, g: Graph, X: str) -> str:
        """The summed leaf weights ``(N, n_targets)``, double."""
        from onnx import numpy_helper

        n = self.nodes
        return g.op(
            "TreeEnsemble",
            X,
            domain=ML,
            n_targets=self.n_targets,
            aggregate_function=1,  # sum
            post_transform=0,  # none
            tree_roots=self.roots,
            nodes_featureids=n["feat"],
            nodes_modes=numpy_helper.from_array(np.zeros(len(n["feat"]), dtype=np.uint8)),  # x <= split
            nodes_splits=numpy_helper.from_array(np.asarray(n["split"], dtype=np.float64)),
            nodes_truenodeids=n["yes"],
            nodes_trueleafs=n["yes_leaf"],
            nodes_falsenodeids=n["no"],
            nodes_falseleafs=n["no_leaf"],
            nodes_missing_value_tracks_true=n["miss"],
            leaf_targetids=self.leaf_target,
            leaf_weights=numpy_helper.from_array(np.asarray(self.leaf_weight, dtype=np.float64)),
        )


def lightgbm_trees(booster: Any) -> Ensemble:
    """The booster's trees, one target per class (LightGBM's tree ``i`` adds to class ``i % k``)."""
    dump = booster.dump_model()
    per_iter = int(dump.get("num_tree_per_iteration", 1))
    ensemble = Ensemble(per_iter)
    for tree in dump["tree_info"]:
        flat = FlatTree()
        _flatten(tree["tree_structure"], flat)
        ensemble.add(flat, int(tree["tree_index"]) % per_iter)
    return ensemble


def _flatten(node: dict[str, Any], flat: FlatTree) -> int:
    me = len(flat.left)
    for column in (flat.left, flat.right, flat.feature, flat.missing_left):
        column.append(-1 if column is flat.left else 0)
    flat.threshold.append(0.0)
    flat.value.append(float(node.get("leaf_value", 0.0)))
    if "split_index" not in node:
        return me
    if node.get("decision_type") != "<=" or node.get("missing_type") == "Zero":
        raise Conflict(
            "this LightGBM model has categorical or zero-as-missing splits, which the export does not "
            "translate"
        )
    flat.feature[me], flat.threshold[me] = int(node["split_feature"]), float(node["threshold"])
    flat.missing_left[me] = 1 if node.get("default_left") and node.get("missing_type") == "NaN" else 0
    flat.left[me] = _flatten(node["left_child"], flat)
    flat.right[me] = _flatten(node["right_child"], flat)
    return me


def lightgbm_output(g: Graph, model: BoostedModel, X: str) -> str:
    """Raw scores summed over the trees in double, then the sigmoid or softmax Shopfloor applies."""
    raw = lightgbm_trees(model.booster_).output(g, X)
    if not model.classification:
        return raw
    if model.n_classes == 2:
        p1 = g.op("Sigmoid", raw)
        return g.op("Concat", g.op("Sub", g.const([[1.0]], "one"), p1), p1, axis=1)
    return g.op("Softmax", raw, axis=1)


def forest_trees(est: Any, classes: int) -> Ensemble:
    """The forest's trees: per class (each tree once per class, its leaves' class fractions as
    scikit-learn normalises them), or the leaf values of a regressor."""
    ensemble = Ensemble(max(classes, 1))
    for tree in est.estimators_:
        t = tree.tree_
        value = np.asarray(t.value)[:, 0, :]
        if classes:
            sums = value.sum(axis=1, keepdims=True)
            value = value / np.where(sums == 0.0, 1.0, sums)
        base = {
            "left": t.children_left.tolist(),
            "right": t.children_right.tolist(),
            "feature": [max(int(f), 0) for f in t.feature],
            "threshold": t.threshold.tolist(),
            "missing_left": [0] * t.node_count,
        }
        for target in range(value.shape[1]):
            ensemble.add(FlatTree(value=value[:, target].tolist(), **base), target)
    return ensemble


def forest_output(g: Graph, model: ForestModel, X: str) -> str:
    """The forest on inputs rounded to float32 (what scikit-learn's trees compare), each tree's
    output summed in double and divided by the number of trees, as scikit-learn averages them."""
    from onnx import TensorProto

    est = model.est_
    seen = est.classes_.astype(int) if model.classification else np.array([0])
    x32 = g.op("Cast", g.op("Cast", X, to=TensorProto.FLOAT), to=TensorProto.DOUBLE)
    summed = forest_trees(est, len(seen) if model.classification else 0).output(g, x32)
    out = g.op("Div", summed, g.const(float(len(est.estimators_)), "n_trees"))
    if model.classification and len(seen) != model.n_classes:
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

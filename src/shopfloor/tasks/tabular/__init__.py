"""Tabular classification and regression: trained here (LightGBM and friends) or imported as files.

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from dataclasses import replace

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec, TensorKind
from shopfloor.tasks.tabular.options import TabularOptions

_TRAINED = "shopfloor.tasks.tabular.estimator:TabularEstimator"
_IMPORTED = "shopfloor.tasks.tabular.imported:ImportedModel"

#: Feedback: the true class (scored by F1 and PR-AUC), or the true value (RMSE, MAE).
LABELS = Outcomes("label", "label", scores="probabilities", metrics=("f1", "pr_auc"))
VALUES = Outcomes("value", "value", metrics=("rmse", "mae"))
#: The answers as tensors (Open Inference Protocol): the class and a probability per class, or the value.
LABEL_TENSORS: tuple[tuple[str, TensorKind], ...] = (("label", "class"), ("probabilities", "scores"))
VALUE_TENSORS: tuple[tuple[str, TensorKind], ...] = (("value", "number"),)
CLASSIFICATION = Capabilities(
    options=TabularOptions,
    inputs="table",
    target="given",
    prediction="classification",
    batched=True,
    explain=("shap", "lime"),
    rules=True,
    batch=True,
    optimise=True,
    plots=("confusion", "importance", "stability", "candidates"),
    compare=True,
    outcomes=LABELS,
    export=("onnx",),
    tensor_answers=LABEL_TENSORS,
)
REGRESSION = replace(
    CLASSIFICATION,
    prediction="regression",
    plots=("importance", "stability", "candidates"),
    outcomes=VALUES,
    tensor_answers=VALUE_TENSORS,
)
IMPORTED_CLASSIFICATION = Capabilities(
    inputs="table",
    target="given",
    prediction="classification",
    trainable=False,
    imported_as="tabular_classification",
    batched=True,
    explain=("shap",),
    batch=True,
    optimise=True,
    outcomes=LABELS,
    tensor_answers=LABEL_TENSORS,
)
IMPORTED_REGRESSION = replace(
    IMPORTED_CLASSIFICATION, prediction="regression", imported_as="tabular_regression", outcomes=VALUES,
    tensor_answers=VALUE_TENSORS,
)

TASKS = (
    TaskSpec("tabular_classification", _TRAINED, CLASSIFICATION, {"kind": "classification"}),
    TaskSpec("tabular_regression", _TRAINED, REGRESSION, {"kind": "regression"}),
    TaskSpec("imported_classification", _IMPORTED, IMPORTED_CLASSIFICATION, {"kind": "classification"}),
    TaskSpec("imported_regression", _IMPORTED, IMPORTED_REGRESSION, {"kind": "regression"}),
)

"""The explicit list of task families: task name -> estimator factory.

Listed by hand (not discovered) so that every family is visible in one place
and heavy modules are imported only when their task is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from shopfloor.errors import InvalidInput

# task name -> (module, class name, keyword arguments fixed by the task)
_CATALOG: dict[str, tuple[str, str, dict[str, Any]]] = {
    "tabular_classification": (
        "shopfloor.tasks.tabular.estimator", "TabularEstimator", {"kind": "classification"}
    ),
    "tabular_regression": ("shopfloor.tasks.tabular.estimator", "TabularEstimator", {"kind": "regression"}),
    "imported_classification": (
        "shopfloor.tasks.tabular.imported", "ImportedModel", {"kind": "classification"}
    ),
    "imported_regression": ("shopfloor.tasks.tabular.imported", "ImportedModel", {"kind": "regression"}),
    "rul": ("shopfloor.tasks.rul.estimator", "RulEstimator", {}),
    "anomaly": ("shopfloor.tasks.anomaly.estimator", "AnomalyEstimator", {}),
    "text_classification": ("shopfloor.tasks.text.estimator", "TextClassifier", {}),
    "image_anomaly": ("shopfloor.tasks.image_anomaly.estimator", "ImageAnomalyDetector", {}),
    "image_classification": (
        "shopfloor.tasks.image_classification.estimator", "ImageClassifier", {}
    ),
    "forecast": ("shopfloor.tasks.forecast.estimator", "Forecaster", {}),
}

# The kind of prediction of families whose constructor does not fix one (for request checks).
_KINDS = {"text_classification": "classification", "image_classification": "classification"}


# Families whose models are made elsewhere and imported as files; they have no training job.
_IMPORT_ONLY = frozenset({"imported_classification", "imported_regression"})


# Families that learn from sensor histories (asset, time, sensors) rather than one row per example.
_SERIES = frozenset({"rul", "anomaly"})

# Families trained with a target column of the dataset; series families derive theirs (or need none).
_NO_TARGET = frozenset({"rul", "anomaly", "image_anomaly", "forecast"})


# Families that learn from image datasets (a zip of part images stored as a table of image bytes).
_IMAGES = frozenset({"image_classification", "image_anomaly"})


def image_task(task: str) -> bool:
    """Whether ``task`` learns from an image dataset."""
    return task in _IMAGES


def series_task(task: str) -> bool:
    """Whether ``task`` learns from sensor histories (needs an asset and a time column)."""
    return task in _SERIES


def needs_target(task: str) -> bool:
    """Whether a training request for ``task`` must name a target column."""
    return task not in _NO_TARGET


def trainable(task: str) -> bool:
    """Whether a training job can fit ``task`` (imported families cannot)."""
    return task in _CATALOG and task not in _IMPORT_ONLY


def tasks() -> list[str]:
    """Names of every task family the server knows (trained here or imported)."""
    return sorted(_CATALOG)


def estimator_class(task: str) -> Any:
    """The estimator class for ``task`` (imports its module on first use)."""
    try:
        module, cls, _ = _CATALOG[task]
    except KeyError:
        raise InvalidInput(
            f"unknown task {task!r}; known tasks: {', '.join(tasks())}",
            errors=[{"loc": ["body", "task"], "msg": "unknown task"}],
        ) from None
    return getattr(importlib.import_module(module), cls)


def task_kind(task: str) -> str:
    """The fixed ``kind`` of a task (e.g. "classification"), or the task name itself."""
    estimator_class(task)
    return str(_CATALOG[task][2].get("kind", _KINDS.get(task, task)))


def supports_batch(task: str) -> bool:
    """Whether models of ``task`` score uploaded tables as batch jobs (``predict_frame``)."""
    return bool(getattr(estimator_class(task), "supports_batch", False))


def batch_instead(task: str) -> str | None:
    """What a family without batch scoring offers instead (``{name}`` stands for the model)."""
    return getattr(estimator_class(task), "batch_instead", None)


def make_estimator(task: str, **params: Any) -> Any:
    """A new, unfitted estimator for ``task`` with ``params`` as hyper-parameters."""
    _, _, fixed = _CATALOG[task] if task in _CATALOG else (None, None, {})
    return estimator_class(task)(**fixed, **params)



def option_model(task: str) -> type[BaseModel] | None:
    """The pydantic model of the ``options`` a training request for ``task`` may give (None for a
    family without training jobs). Light: the option modules import pydantic only.

    Until each family declares its capabilities (options included), this list stands in for them.
    """
    where = {
        "tabular_classification": ("shopfloor.tasks.tabular.options", "TabularOptions"),
        "tabular_regression": ("shopfloor.tasks.tabular.options", "TabularOptions"),
        "rul": ("shopfloor.tasks.rul.options", "RulOptions"),
        "anomaly": ("shopfloor.tasks.anomaly.options", "AnomalyOptions"),
        "text_classification": ("shopfloor.tasks.text.options", "TextOptions"),
        "image_anomaly": ("shopfloor.tasks.image_anomaly.options", "ImageAnomalyOptions"),
        "image_classification": (
            "shopfloor.tasks.image_classification.options", "ImageClassificationOptions"
        ),
        "forecast": ("shopfloor.tasks.forecast.options", "ForecastOptions"),
    }
    if task not in where:
        return None
    module, cls = where[task]
    model: type[BaseModel] = getattr(importlib.import_module(module), cls)
    return model

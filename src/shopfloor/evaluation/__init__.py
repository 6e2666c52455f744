"""Evaluation: metrics on held-out data and their stability across seeds and folds."""

from shopfloor.evaluation.metrics import (
    best_threshold,
    check_metric,
    classification_report,
    default_metric,
    greater_is_better,
    regression_report,
    score,
)
from shopfloor.evaluation.stability import seeded_splits, stability, summarize

__all__ = [
    "best_threshold",
    "check_metric",
    "classification_report",
    "default_metric",
    "greater_is_better",
    "regression_report",
    "score",
    "seeded_splits",
    "stability",
    "summarize",
]

"""Batch-scored rows (``prediction`` and ``proba_<class>`` columns) as the answers ``predict`` gives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def scored_answers(scored: pd.DataFrame, kind: str, classes: Sequence[Any]) -> list[dict[str, Any]]:
    """``{"label", "probabilities"}`` (classification) or ``{"value"}`` per scored row."""
    if kind == "regression":
        return [{"value": float(v)} for v in scored["prediction"].tolist()]
    columns = [(str(c), scored[f"proba_{c}"].tolist()) for c in classes]
    return [
        {"label": _plain(label), "probabilities": {name: float(values[i]) for name, values in columns}}
        for i, label in enumerate(scored["prediction"].tolist())
    ]

"""The model outputs a drift check compares, from the answers every family gives.

Batch scoring gives ``prediction`` and ``proba_<class>`` columns (classification), a value
(regression) or the family's own columns; ``predict`` gives one dict per record. Both become a
table of outputs to compare: numbers stay numbers, labels stay labels, and class probabilities
are summed up so that a model with thirty classes is not thirty tests: the probability of the
second class for two classes, the highest probability (``confidence``) for more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

#: A label output with more distinct values than this (an id, a free text) is not compared.
MAX_LABELS = 50
PROBA = "proba_"
CONFIDENCE = "confidence"


def answers_table(answers: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``predict`` answers as a table: scalar fields as columns, ``probabilities`` as
    ``proba_<class>`` columns; warnings, lists and nested objects left out."""
    rows = []
    for answer in answers:
        row: dict[str, Any] = {}
        for key, value in answer.items():
            if key == "probabilities" and isinstance(value, Mapping):
                row.update({f"{PROBA}{c}": p for c, p in value.items()})
            elif key != "warnings" and (value is None or isinstance(value, str | int | float | bool)):
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


def output_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The outputs worth comparing (see the module docstring): probabilities summed up, empty
    columns and labels with more than :data:`MAX_LABELS` values left out."""
    proba = [c for c in table.columns if str(c).startswith(PROBA)]
    out = table.drop(columns=proba)
    if len(proba) == 2:
        out[f"probability of {str(proba[1]).removeprefix(PROBA)}"] = pd.to_numeric(table[proba[1]])
    elif len(proba) > 2:
        out[CONFIDENCE] = table[proba].apply(pd.to_numeric).max(axis=1)
    keep = []
    for name in out.columns:
        values = out[name]
        if values.isna().all():
            continue
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric or values.nunique(dropna=True) <= MAX_LABELS:
            keep.append(name)
    return out[keep]

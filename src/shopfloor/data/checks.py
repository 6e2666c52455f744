"""Check a training request against the dataset's profile before a job is queued.

Everything that would only fail minutes into a job (a misspelt target, a single
class, text as a regression target) is refused here with the field it concerns.
Problems the trainer can handle (missing target values, rare classes) come back
as warning sentences for the job record.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidInput

logger = logging.getLogger(__name__)

KINDS = ("classification", "regression")
MIN_CLASS_ROWS = 5
MANY_CLASSES = 50
SHOW_COLUMNS = 30


def check_training_request(
    columns: list[dict[str, Any]],
    target: str,
    exclude: list[str],
    kind: str,
    frame: pd.DataFrame | None = None,
) -> list[str]:
    """Refuse an impossible training request; return warnings for a doubtful one.

    ``columns`` is the dataset profile (:func:`shopfloor.data.profile.profile_frame`),
    ``kind`` ``"classification"`` or ``"regression"``. With ``frame`` the class counts
    are exact; without it they come from the profile's top values.

    Raises:
        InvalidInput: unknown target (``loc ["body", "target"]``, with close matches and the
            available columns), unknown or target-including ``exclude`` entries
            (``["body", "exclude", i]``), no feature left, unknown kind, a classification
            target with fewer than two classes, a regression target that is not numeric.
    """
    by_name = {column["name"]: column for column in columns}
    names = list(by_name)
    errors: list[dict[str, Any]] = []
    if kind not in KINDS:
        errors.append(
            {"loc": ["body", "kind"], "msg": f"unknown kind {kind!r}; expected one of {list(KINDS)}"}
        )
    if target not in by_name:
        errors.append({"loc": ["body", "target"], "msg": _unknown(target, names)})
    for i, name in enumerate(exclude):
        if name == target:
            errors.append(
                {"loc": ["body", "exclude", i], "msg": f"{name!r} is the target; it cannot also be excluded"}
            )
        elif name not in by_name:
            errors.append({"loc": ["body", "exclude", i], "msg": _unknown(name, names)})
    if errors:
        raise InvalidInput(_summary(errors), errors=errors, available=names)

    features = [name for name in names if name != target and name not in set(exclude)]
    if not features:
        raise InvalidInput(
            "no feature column is left after excluding the target and the excluded columns",
            errors=[{"loc": ["body", "exclude"], "msg": "excludes every column other than the target"}],
        )

    column = by_name[target]
    warnings: list[str] = []
    missing = int(column.get("missing") or 0)
    if missing:
        warnings.append(
            f"{missing} rows with no value in the target {target!r} will be dropped before training"
        )
    if kind == "classification":
        warnings += _check_classes(target, column, frame)
    else:
        _check_regression(target, column, frame)
    for message in warnings:
        logger.info("training request on %r: %s", target, message)
    return warnings


def _unknown(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if not close:  # plant headers differ in case and units: "machine failure" vs "Machine failure"
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        close = [lowered[c] for c in close]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    shown = names[:SHOW_COLUMNS]
    more = f" and {len(names) - SHOW_COLUMNS} more" if len(names) > SHOW_COLUMNS else ""
    return f"no column {name!r} in the dataset{hint} Available columns: {shown}{more}"


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0]["msg"].split(" Available columns:")[0]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{first}{more}"


def _class_counts(
    target: str, column: dict[str, Any], frame: pd.DataFrame | None
) -> tuple[int, dict[Any, int]]:
    """Number of distinct non-missing target values, and counts of the ones known."""
    if frame is not None and target in frame.columns:
        counts = frame[target].value_counts(dropna=True)
        return int(len(counts)), {_plain(value): int(count) for value, count in counts.items()}
    stats = column.get("stats") or {}
    top = {item["value"]: int(item["count"]) for item in stats.get("top", [])}
    return int(stats.get("distinct", len(top))), top


def _check_classes(target: str, column: dict[str, Any], frame: pd.DataFrame | None) -> list[str]:
    distinct, counts = _class_counts(target, column, frame)
    if distinct == 0:
        raise InvalidInput(
            f"the target {target!r} has no values",
            errors=[{"loc": ["body", "target"], "msg": "every value is missing"}],
        )
    if distinct == 1:
        only = next(iter(counts), None)
        raise InvalidInput(
            f"the target {target!r} has a single class ({only!r}): a classifier needs at least two",
            errors=[{"loc": ["body", "target"], "msg": f"only one class: {only!r}"}],
        )
    warnings = []
    rare = {value: count for value, count in counts.items() if count < MIN_CLASS_ROWS}
    if rare:
        listed = ", ".join(f"{value!r} ({count})" for value, count in list(rare.items())[:10])
        warnings.append(
            f"target {target!r}: {len(rare)} class(es) have fewer than {MIN_CLASS_ROWS} rows: {listed}; "
            "their scores will be unreliable"
        )
    if distinct > MANY_CLASSES and column.get("type") == "numeric":
        warnings.append(
            f"target {target!r} is numeric with {distinct} distinct values; did you mean kind='regression'?"
        )
    return warnings


def _check_regression(target: str, column: dict[str, Any], frame: pd.DataFrame | None) -> None:
    kind = column.get("type")
    numeric = kind == "numeric"
    if frame is not None and target in frame.columns:
        dtype = frame[target].dtype
        numeric = numeric and (pd.api.types.is_numeric_dtype(dtype) or dtype is np.dtype(object))
    if numeric:
        return
    hint = "; use kind='classification'" if kind in ("boolean", "categorical") else ""
    raise InvalidInput(
        f"the target {target!r} is {kind}, not numeric: a regression target must be a number{hint}",
        errors=[
            {"loc": ["body", "target"], "msg": f"regression needs a numeric target, this column is {kind}"}
        ],
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value

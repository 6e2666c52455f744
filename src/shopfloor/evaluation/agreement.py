"""How far two models' answers to the same records agree, by the kind of answer a task declares.

* ``label``: the share of records given the same class (``same_class``);
* ``value``: the mean absolute difference of the answers (``mean_abs_difference``, in the answers'
  units; sequences such as a forecast's horizon compared step by step) and their Pearson correlation;
* ``alarm``: the share of records where both raised an alarm or neither did (``alarm_agreement``),
  and how many alarms only one of them raised;
* any other answer: the share of identical answers (``same_answer``).

Every function takes the two sides' answers in pairs and returns ``{measure: value}``, the headline
measure first; ``None`` where it cannot be computed (no pairs, a constant side for a correlation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Measures where smaller means closer agreement.
LOWER_IS_CLOSER = frozenset({"mean_abs_difference"})

Agreement = dict[str, float | int | None]


def _share(same: Sequence[bool]) -> float | None:
    return float(np.mean(same)) if len(same) else None


def label_agreement(a: Sequence[Any], b: Sequence[Any]) -> Agreement:
    """Classes given to the same records (compared as text: ``1`` and ``"1"`` are one class)."""
    return {"same_class": _share([str(x) == str(y) for x, y in zip(a, b, strict=True)])}


def value_agreement(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> Agreement:
    """Numbers (or sequences of them, compared as far as both go) given to the same records."""
    x: list[float] = []
    y: list[float] = []
    for first, second in zip(a, b, strict=True):
        steps = min(len(first), len(second))
        x.extend(float(v) for v in first[:steps])
        y.extend(float(v) for v in second[:steps])
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    if not len(xs):
        return {"mean_abs_difference": None, "correlation": None}
    correlation = None
    if len(xs) > 1 and float(np.std(xs)) > 0 and float(np.std(ys)) > 0:
        found = float(np.corrcoef(xs, ys)[0, 1])
        correlation = found if math.isfinite(found) else None
    return {"mean_abs_difference": float(np.mean(np.abs(xs - ys))), "correlation": correlation}


def alarm_agreement(a: Sequence[bool], b: Sequence[bool]) -> Agreement:
    """Alarms (true) or none (false) raised on the same records by the first (a) and second (b) side."""
    first, second = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    return {
        "alarm_agreement": _share(list(first == second)),
        "first_only": int((first & ~second).sum()),
        "second_only": int((second & ~first).sum()),
        "both": int((first & second).sum()),
    }


def same_answer(a: Sequence[Any], b: Sequence[Any]) -> Agreement:
    """Answers identical as a whole (for answers of no declared kind)."""
    return {"same_answer": _share([x == y for x, y in zip(a, b, strict=True)])}

"""Live metrics: served answers scored against the outcomes fed back once they were known.

Three kinds of outcome (what a family declares, see ``tasks.base.Outcomes``):

* ``label``: the served classes against the true ones; ``f1`` (binary for the second class, macro
  otherwise) and ``pr_auc`` (from the served probabilities) through :func:`evaluation.metrics.score`;
* ``value``: served numbers (or sequences, such as a forecast's horizon, compared step by step as
  far as outcomes were given) against the true ones; ``rmse`` and ``mae`` through
  :func:`evaluation.metrics.score`, and ``mase`` with each answer's own scale;
* ``alarm``: whether an alarm was raised against whether something really was wrong;
  ``alarm_precision`` (the share of alarms that were real) and ``alarm_recall``.

Every function returns ``{metric: value}`` for the metrics asked, ``None`` where it cannot be
computed (too few outcomes, a single class for PR-AUC, no scale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shopfloor.evaluation import metrics as M

LABEL_METRICS = ("f1", "pr_auc")
VALUE_METRICS = ("rmse", "mae", "mase")
ALARM_METRICS = ("alarm_precision", "alarm_recall")
METRICS = (*LABEL_METRICS, *VALUE_METRICS, *ALARM_METRICS)
#: Metrics where smaller is better (for charts and comparisons with the training report).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mase"})

Scores = dict[str, float | None]


def _plain(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def label_scores(
    metrics: Sequence[str],
    served: Sequence[int],
    truth: Sequence[int],
    classes: int,
    proba: np.ndarray | None = None,
) -> Scores:
    """``served`` and ``truth`` are class indices (of ``classes``); ``proba`` the served probabilities."""
    y, pred = np.asarray(truth, dtype=int), np.asarray(served, dtype=int)
    out: Scores = {}
    for name in metrics:
        if not len(y):
            out[name] = None
        elif name == "f1":
            # the served decisions, as a probability matrix that puts all weight on them
            decided = np.eye(max(classes, 2))[pred]
            out[name] = _plain(M.score("f1", y, decided, 0.5 if classes == 2 else None))
        elif name == "pr_auc":
            out[name] = None if proba is None else _plain(M.score("pr_auc", y, np.asarray(proba, float)))
        else:
            raise ValueError(f"{name!r} is not a metric of class outcomes")
    return out


def value_scores(
    metrics: Sequence[str],
    served: Sequence[Sequence[float]],
    truth: Sequence[Sequence[float]],
    scales: Sequence[float | None] | None = None,
) -> Scores:
    """Per answer, the served values and the true ones (as many as were given, from the first step);
    ``scales`` the error scale of each answer (MASE), None where it has none."""
    pairs = [(s[: len(t)], t, i) for i, (s, t) in enumerate(zip(served, truth, strict=True))]
    f = np.asarray([v for s, _, _ in pairs for v in s], dtype=float)
    y = np.asarray([v for _, t, _ in pairs for v in t], dtype=float)
    out: Scores = {}
    for name in metrics:
        if not len(y):
            out[name] = None
        elif name in ("rmse", "mae"):
            out[name] = _plain(M.score(name, y, f))
        elif name == "mase":
            out[name] = _mase(pairs, scales)
        else:
            raise ValueError(f"{name!r} is not a metric of value outcomes")
    return out


def _mase(
    pairs: list[tuple[Sequence[float], Sequence[float], int]], scales: Sequence[float | None] | None
) -> float | None:
    errors: list[float] = []
    for s, t, i in pairs:
        scale = scales[i] if scales is not None else None
        if scale is None or not math.isfinite(scale) or scale <= 0:
            continue
        errors.extend(abs(a - b) / scale for a, b in zip(t, s, strict=True))
    return float(np.mean(errors)) if errors else None


def alarm_scores(metrics: Sequence[str], served: Sequence[bool], truth: Sequence[bool]) -> Scores:
    """Alarms raised against what was really wrong."""
    alarm, real = np.asarray(served, dtype=bool), np.asarray(truth, dtype=bool)
    out: Scores = {}
    for name in metrics:
        if name == "alarm_precision":
            out[name] = float(real[alarm].mean()) if alarm.any() else None
        elif name == "alarm_recall":
            out[name] = float(alarm[real].mean()) if real.any() else None
        else:
            raise ValueError(f"{name!r} is not a metric of alarm outcomes")
    return out

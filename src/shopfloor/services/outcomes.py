"""Outcomes against served answers, by the kind a task declares (``Capabilities.outcomes``): what
feedback may say about an answer, and the live metrics of a set of answers with their outcomes.

Nothing here knows a family: the field an answer is read from, the field of its probabilities and
the metrics are the task's declaration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from shopfloor.evaluation import calibration as C
from shopfloor.evaluation.live import Scores, alarm_scores, label_scores, value_scores
from shopfloor.tasks.base import Outcomes


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def classes_of(spec: Outcomes, answer: Mapping[str, Any]) -> list[str] | None:
    """The class names an answer gives probabilities for (its keys, in order), or None."""
    scores = answer.get(spec.scores) if spec.scores else None
    return [str(k) for k in scores] if isinstance(scores, Mapping) and scores else None


def check_outcome(spec: Outcomes, answer: Any, outcome: Any) -> str | None:
    """Why ``outcome`` cannot be the truth about ``answer`` (as served), or None when it can."""
    if not isinstance(answer, Mapping) or spec.answer not in answer:
        return f"the logged answer has no {spec.answer!r} to compare an outcome with"
    served = answer[spec.answer]
    if spec.kind == "label":
        if isinstance(outcome, float) or not isinstance(outcome, str | int | bool):
            return f"expected a class label (text or a whole number), got {_show(outcome)}"
        classes = classes_of(spec, answer)
        if classes is not None and str(outcome) not in classes:
            return f"{_show(outcome)} is not a class of this model (classes: {', '.join(classes[:20])})"
        return None
    if spec.kind == "value":
        if isinstance(served, list):
            steps = outcome if isinstance(outcome, list) else [outcome]
            if not steps or len(steps) > len(served) or not all(_number(v) for v in steps):
                return (
                    f"expected a number or a list of 1 to {len(served)} numbers (the true values, step "
                    f"by step), got {_show(outcome)}"
                )
            return None
        return None if _number(outcome) else f"expected a finite number, got {_show(outcome)}"
    if not isinstance(outcome, bool):
        return f"expected true (something was really wrong) or false, got {_show(outcome)}"
    return None


def scores(
    spec: Outcomes,
    answers: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Any],
    scale: Callable[[Mapping[str, Any]], float | None] | None = None,
) -> Scores:
    """The declared live metrics of ``answers`` against their ``outcomes`` (checked, same length);
    ``scale`` gives an answer's error scale where the metrics need one (``mase``)."""
    if spec.kind == "label":
        classes = next((c for c in (classes_of(spec, a) for a in answers) if c), None)
        if classes is None:
            names = sorted({str(a[spec.answer]) for a in answers} | {str(o) for o in outcomes})
            served = [names.index(str(a[spec.answer])) for a in answers]
            truth = [names.index(str(o)) for o in outcomes]
            return label_scores(spec.metrics, served, truth, max(len(names), 2))
        served, proba = served_classes(spec, answers, classes)
        truth = [classes.index(str(o)) for o in outcomes]
        return label_scores(spec.metrics, served, truth, len(classes), proba)
    if spec.kind == "value":
        served_values = [_steps(a[spec.answer]) for a in answers]
        true_values = [_steps(o) for o in outcomes]
        scales = [scale(a) for a in answers] if scale is not None and "mase" in spec.metrics else None
        return value_scores(spec.metrics, served_values, true_values, scales)
    # an alarm is a true flag or a non-empty list (the events raised)
    return alarm_scores(spec.metrics, [bool(a[spec.answer]) for a in answers], [bool(o) for o in outcomes])


def _steps(value: Any) -> list[float]:
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def served_classes(
    spec: Outcomes, answers: Sequence[Mapping[str, Any]], classes: list[str]
) -> tuple[list[int], np.ndarray]:
    """The served class index and probability row of each answer (answers without probabilities get
    all weight on their class)."""
    served, rows = [], []
    for a in answers:
        k = classes.index(str(a[spec.answer])) if str(a[spec.answer]) in classes else 0
        served.append(k)
        found = a.get(spec.scores) if spec.scores else None
        if isinstance(found, Mapping):
            rows.append([float(found.get(c, 0.0)) for c in classes])
        else:
            rows.append([1.0 if j == k else 0.0 for j in range(len(classes))])
    return served, np.asarray(rows, dtype=float).reshape(len(answers), len(classes))


def estimate(
    spec: Outcomes, answers: Sequence[Mapping[str, Any]], calibration: Any
) -> tuple[dict[str, float | None] | None, str | None]:
    """Precision, recall and F1 estimated without outcomes (CBPE), or None and why not."""
    if spec.kind != "label" or not spec.scores:
        return None, "estimation without outcomes is for classifiers that serve class probabilities"
    classes = next((c for c in (classes_of(spec, a) for a in answers) if c), None)
    if classes is None:
        return None, "the logged answers carry no class probabilities"
    if not C.usable(calibration, len(classes)):
        return None, (
            "not available: this version's report holds no calibration of its probabilities "
            "(trained before calibration was measured, or by a family that does not measure it)"
        )
    usable = [
        a for a in answers if isinstance(a.get(spec.scores), Mapping) and str(a.get(spec.answer)) in classes
    ]
    if not usable:
        return {"precision": None, "recall": None, "f1": None}, None
    served, proba = served_classes(spec, usable, classes)
    return C.estimate(C.calibrate(calibration, proba), np.asarray(served)), None

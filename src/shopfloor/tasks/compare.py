"""What a retraining gate compares: a new version and the one it would replace, on the same held-out
examples of the new data, scored by the family's metric on any selection of those examples.

A family answers :meth:`~shopfloor.tasks.base.BaseEstimator.compare_with` on the model it has just
fitted. The answer is :class:`Paired` (both models' figures over the held-out examples, which the
gate also resamples to measure their noise) or :class:`Incomparable` (no held-out figure both
models can be given, and why). The examples are whatever the family holds out whole: table rows,
the assets of a sensor history, recordings, images, series, stretches of one stream. Examples
from data the champion learnt from are no fair test of it and are left out.

:func:`compare_rows` is the comparison of families that hold out single rows and score labelled
rows (``holdout_rows`` and ``row_scorer``); the others build their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shopfloor.errors import InvalidInput
from shopfloor.evaluation.metrics import greater_is_better

if TYPE_CHECKING:
    import pandas as pd

#: Both models' figures over a selection of the examples (with repeats: a resample).
Figures = Callable[[np.ndarray], tuple[dict[str, float], dict[str, float]]]


@dataclass(frozen=True)
class NewData:
    """What a retraining fitted the new version on, as the gate hands it to the family.

    frame
        The training table (the datasets combined, in the order the family's ``combine`` gave).
    seen
        Per row of ``frame``: whether it comes from data the champion was trained on.
    target
        The configuration's target column ("" for a family that derives its target or has none).
    champion
        How messages name the champion (``version 1 (production)``).
    """

    frame: pd.DataFrame
    seen: np.ndarray
    target: str
    champion: str


@dataclass(frozen=True)
class Paired:
    """Both models scored on the same held-out examples.

    metric, greater_is_better
        The figure the gate compares, and its direction.
    units, unit
        How many examples are compared, and what they are (``rows``, ``assets``, ``recordings``...).
    where
        What the examples are, for a sentence: ``held-out rows of the new data``.
    left_out
        Held-out examples left out because they come from data the champion learnt from.
    figures
        ``figures(take)``: the new version's and the champion's figures (``metric`` among them) over
        the examples ``take`` (indices below ``units``, repeats allowed), from outputs computed once.
    how
        How the figures were made, where that is not obvious (fold models, injected faults...).
    """

    metric: str
    greater_is_better: bool
    units: int
    unit: str
    where: str
    left_out: int
    figures: Figures
    how: str = ""

    def everything(self) -> tuple[dict[str, float], dict[str, float]]:
        """The figures over every example compared."""
        return self.figures(np.arange(self.units))


@dataclass(frozen=True)
class Incomparable:
    """No held-out figure can be given to both models: ``reason`` says why (and what would make one),
    ``available`` holds what could be measured all the same."""

    reason: str
    left_out: int = 0
    available: dict[str, Any] = field(default_factory=dict)


Compared = Paired | Incomparable


def labelled(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The row numbers of ``frame`` with a value in ``column`` (none when it lacks the column)."""
    if column not in frame.columns:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(frame[column].notna().to_numpy())


def paired_rows(
    challenger: Any,
    champion: Any,
    frame: pd.DataFrame,
    target: str,
    where: str,
    left_out: int = 0,
    metric: str | None = None,
    unit: str = "rows",
) -> Paired:
    """Both models' ``row_scorer`` on the labelled rows ``frame`` (every row has an outcome in
    ``target``), compared by ``metric`` (default: the new version's report's ``metric``); ``unit``
    says what a row is (``rows``, ``images``...)."""
    new, old = challenger.row_scorer(frame, target), champion.row_scorer(frame, target)
    metric = metric or str(challenger.report_["metric"])
    return Paired(
        metric, greater_is_better(metric), len(frame), unit, where, left_out, lambda t: (new(t), old(t))
    )


def compare_rows(challenger: Any, champion: Any, data: NewData, unit: str = "rows") -> Compared:
    """The comparison of a family that holds out single rows (``unit``: what one is): the new
    version's hold-out rows that do not come from the champion's training data, scored by both."""
    rows = challenger.holdout_rows()
    if rows is None:
        return Incomparable(f"the new version names no held-out {unit} to compare on")
    rows = np.asarray(rows, dtype=int)
    fresh = rows[~data.seen[rows]]
    left_out = len(rows) - len(fresh)
    if len(fresh) == 0:
        return Incomparable(
            f"all {len(rows)} held-out {unit} come from the data {data.champion} was trained on; "
            f"retrain with new data to compare on {unit} it has not seen",
            left_out=left_out,
        )
    part = data.frame.iloc[fresh]
    where = f"held-out {unit} of the new data"
    return paired_rows(challenger, champion, part, data.target, where, left_out, unit=unit)


def fresh_units(units: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, int]:
    """Of examples made of rows (``units``: the example of each row, -1 for none), those none of
    whose rows come from the champion's training data (their codes, in order of appearance), and
    how many examples were left out."""
    codes = np.unique(units[units >= 0])
    touched = np.unique(units[(units >= 0) & seen])
    return np.setdiff1d(codes, touched), len(touched)


def not_fitted_here(kept: str) -> Incomparable:
    """No comparison: the new version was loaded, not fitted in this job (``kept``: what its fit
    keeps for the comparison, plural, which is not saved)."""
    return Incomparable(f"the new version was not fitted in this job (its {kept} are not saved)")


def all_seen(what: str, data: NewData, hint: str, left_out: int = 0) -> Incomparable:
    """No comparison: ``what`` (``every asset``...) of the new data comes from the champion's own
    training data; ``hint`` says what to retrain with instead."""
    return Incomparable(
        f"{what} of the new data comes from the data {data.champion} was trained on; {hint}",
        left_out=left_out,
    )


def concatenated(parts: list[np.ndarray], take: np.ndarray) -> np.ndarray:
    """The elements of ``parts[i]`` for every ``i`` in ``take``, in that order (repeats included)."""
    return np.concatenate([parts[i] for i in take]) if len(take) else np.zeros(0, dtype=int)


def not_scored(task: str, why: str) -> InvalidInput:
    """The refusal of a family that cannot score labelled records one by one (the gate's live check
    reports it as the reason live data is not available)."""
    return InvalidInput(f"{task} models do not score labelled records one by one: {why}")

"""Where a retraining gate finds labelled live data: the records a model answered in production
whose true outcome was fed back since.

The gate (:mod:`shopfloor.jobs.gate`) asks the process's source
(:attr:`shopfloor.context.Platform.live_labelled`) once per retraining job. The default,
:class:`NoLiveData`, has none: the gate then says so and decides on the held-out rows alone. A
source backed by the prediction log replaces it where the platform is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class LabelledRecords:
    """Live records with their true outcomes.

    inputs
        One row per logged prediction that has feedback: the record's input columns, named as in
        the model's input schema (the values the caller sent).
    outcomes
        The true outcome of each row, as the target column of a training table would hold it
        (a class label or a number), row by row in the order of ``inputs``; a missing outcome
        (None, NaN) leaves its row out.
    """

    inputs: pd.DataFrame
    outcomes: pd.Series


@runtime_checkable
class LiveLabelledSource(Protocol):
    """What a retraining gate reads of the live data of one model."""

    def labelled(self, tenant: str, model: str, since: datetime | None) -> LabelledRecords | None:
        """The records of model ``model`` (by name, every version) of ``tenant`` logged at or after
        ``since`` (all of them when None) that have a true outcome, or None when there are none.

        Another tenant's records never come back. Raises a
        :class:`~shopfloor.errors.ShopfloorError` only where the log cannot be read; the gate then
        reports live data as not available, with the reason.
        """
        ...


class NoLiveData:
    """The source of a platform without a prediction log: never any labelled live record."""

    def labelled(self, tenant: str, model: str, since: datetime | None) -> LabelledRecords | None:
        return None

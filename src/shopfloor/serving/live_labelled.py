"""The retraining gate's labelled live records, from the prediction log: the inputs of the logged
predictions of a model whose true outcome was fed back, with that outcome.

Built by :meth:`shopfloor.context.Platform.from_settings` for every process (a retraining job runs
in a process of its own and reads the registry every host shares, as the API does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeGuard

import pandas as pd

from shopfloor.errors import Conflict
from shopfloor.jobs.live import LabelledRecords
from shopfloor.serving.log_reading import ReadPlatform, entries_of, outcomes_of, read_pages

#: Labelled records read per gate at most (the oldest after ``since`` first).
MAX_RECORDS = 100_000


class LoggedLabels:
    """:class:`~shopfloor.jobs.live.LiveLabelledSource` over the prediction log.

    A record is a logged prediction (of any version of the model, failed calls never) that has an
    outcome: its inputs as logged (the fields of the model's input schema; texts and categories
    masked by the tenant's policy, as uploads are) and the outcome as fed back. Predictions of
    models that answer per asset or stream (logged with the request's records) and inputs the log
    kept as a digest only are left out: they are not one row of a table. When every record with
    an outcome is of that kind, :meth:`labelled` raises ``Conflict`` saying so (the gate then
    reports live data as not available, with that reason).
    """

    def __init__(self, platform: ReadPlatform) -> None:
        self.platform = platform

    def labelled(self, tenant: str, model: str, since: datetime | None) -> LabelledRecords | None:
        store = self.platform.store
        refs = read_pages(
            lambda after, n: store.list_labelled(tenant, model, since=since, after=after, limit=n),
            MAX_RECORDS,
        )
        if not refs:
            return None
        entries, outcomes = entries_of(self.platform, tenant, refs), outcomes_of(self.platform, tenant, refs)
        rows, truths = [], []
        for ref in refs:
            inputs = (entries.get(ref.key) or {}).get("inputs")
            if _one_row(inputs) and ref.key in outcomes:
                rows.append(dict(inputs))
                truths.append(outcomes[ref.key])
        if not rows:
            raise Conflict(
                f"{len(refs)} logged prediction(s) of {model!r} have an outcome, but the log does not keep "
                "them as rows a model can score again (images and recordings are kept as their digest, "
                "answers per asset with the request's records)"
            )
        return LabelledRecords(pd.DataFrame.from_records(rows), pd.Series(truths, dtype=object))


def _one_row(inputs: Any) -> TypeGuard[Mapping[str, Any]]:
    """Whether logged ``inputs`` are one record as it was sent: not a request's records, not a
    digest in place of inputs too large to keep, no image or recording kept as its digest."""
    return (
        isinstance(inputs, Mapping)
        and "omitted" not in inputs
        and not any(isinstance(v, Mapping) and "sha256" in v for v in inputs.values())
    )

"""The retraining gate's labelled live records, from the prediction log: the inputs of the logged
predictions of a model whose true outcome was fed back, with that outcome.

Built by :meth:`shopfloor.context.Platform.from_settings` for every process (a retraining job runs
in a process of its own and reads the registry every host shares, as the API does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd

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
    kept as a digest only are left out: they are not one row of a table.
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
            if isinstance(inputs, Mapping) and "omitted" not in inputs and ref.key in outcomes:
                rows.append(dict(inputs))
                truths.append(outcomes[ref.key])
        if not rows:
            return None
        return LabelledRecords(pd.DataFrame.from_records(rows), pd.Series(truths, dtype=object))

"""Every operation the Lookout for Equipment facade answers: the tables of its modules, joined.

A module of operations is added here with one line (and nowhere else).
"""

from __future__ import annotations

from shopfloor.services.lookout import datasets, ingestion, labels, models, schedulers
from shopfloor.services.lookout.operations import Operation, join

OPERATIONS: dict[str, Operation] = join(
    datasets.OPERATIONS,
    ingestion.OPERATIONS,
    labels.OPERATIONS,
    models.OPERATIONS,
    schedulers.OPERATIONS,
)

"""Dask worker preload (``dask worker ... --preload shopfloor.jobs.dask_preload``): import what jobs
and their fanned-out parts use before the worker takes any task.

While a job waits for its parts it gives its thread to them, and a part may start while another
thread of the process is still importing a library for the first time: two threads importing
scikit-learn at once can see a module half initialised ("cannot import name 'clone' from
'sklearn.base'"). Importing it all here, once, at start-up, leaves nothing to import concurrently.
"""

from __future__ import annotations

import importlib
import logging

from shopfloor.tasks import catalog

log = logging.getLogger(__name__)

#: Modules the families' fitting code imports lazily, and the fan-out's own, imported at start.
LAZY = (
    "pandas",
    "sklearn.base",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.metrics",
    "lightgbm",
    "statsforecast",
    "statsforecast.models",
    "distributed",
    "shopfloor.parallel",
    "shopfloor.jobs.handlers",
    "shopfloor.jobs.dask_runner",
    "shopfloor.evaluation.metrics",
    "shopfloor.evaluation.stability",
    "shopfloor.tasks.tabular.estimator",
    "shopfloor.tasks.tabular.features",
    "shopfloor.tasks.tabular.models",
    "shopfloor.tasks.forecast.estimator",
    "shopfloor.tasks.forecast.candidates",
)


def preload() -> None:
    """Import every family's module and :data:`LAZY`; a library that is not installed is skipped
    (its family cannot run on this worker anyway, and says so when a job asks for it)."""
    for name in (*catalog.FAMILIES, *LAZY):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.warning("preload: %s not imported: %s", name, exc)


def dask_setup(worker: object) -> None:
    """Called by Dask when the worker starts."""
    preload()

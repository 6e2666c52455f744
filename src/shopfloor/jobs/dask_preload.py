"""Dask worker preload (``dask worker ... --preload shopfloor.jobs.dask_preload``): import what jobs
use before the worker takes any task.

A worker runs a job on one thread and the items that jobs fan out on its other: two threads
importing scikit-learn (or LightGBM, pandas) for the first time at once can see a module half
initialised ("cannot import name 'clone' from 'sklearn.base'"). Importing it all here, once, at
start-up, leaves nothing to import concurrently.
"""

from __future__ import annotations

import importlib

from shopfloor.tasks import catalog

#: Modules the families' fitting code imports lazily, imported at worker start.
LAZY = (
    "sklearn.base",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.metrics",
    "lightgbm",
    "shopfloor.jobs.handlers",
    "shopfloor.jobs.dask_runner",
    "shopfloor.evaluation.stability",
    "shopfloor.tasks.tabular.estimator",
    "shopfloor.tasks.tabular.features",
    "shopfloor.tasks.tabular.models",
    "shopfloor.tasks.forecast.estimator",
)


def dask_setup(worker: object) -> None:
    """Called by Dask when the worker starts."""
    for name in (*catalog.FAMILIES, *LAZY):
        importlib.import_module(name)

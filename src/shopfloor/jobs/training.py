"""The steps a training job and a retraining job share: fit an estimator as a configuration says,
then store and register what it learnt, with its report and lineage."""

from __future__ import annotations

import platform as pyplatform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.series import SeriesSpec, spec_kwargs
from shopfloor.jobs.profiling import training_files
from shopfloor.jobs.registering import register_version
from shopfloor.registry.entities import Job, ModelVersion
from shopfloor.security.limits import check_output
from shopfloor.tasks import catalog
from shopfloor.tasks.backbones import attach_backbone
from shopfloor.tasks.base import ProgressFn

_PACKAGES = ("shopfloor", "numpy", "pandas", "scikit-learn", "lightgbm", "shap", "skops", "pyarrow", "torch")

#: The keys of a training job's parameters that make its configuration: what a retraining repeats.
CONFIG_KEYS = (
    "task",
    "target",
    "exclude",
    "options",
    "metric",
    "seed",
    "time_budget_s",
    "asset_column",
    "time_column",
    "sensors",
)


def package_versions() -> dict[str, str]:
    out = {"python": pyplatform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def series_layout(config: Mapping[str, Any]) -> dict[str, Any]:
    """The sensor layout keywords of a series family's configuration; none for other families."""
    if catalog.capabilities(config["task"]).inputs != "series":
        return {}
    return spec_kwargs(SeriesSpec(config["asset_column"], config["time_column"], tuple(config["sensors"])))


def configured(platform: Platform, config: Mapping[str, Any], types: dict[str, str]) -> Any:
    """A new, unfitted estimator of ``config`` (task, metric, seed, time budget, options, sensor
    layout) reading columns of the ``types`` given, with the backbone its options name."""
    estimator = catalog.make_estimator(
        config["task"],
        metric=config.get("metric"),
        seed=int(config.get("seed") or 0),
        time_budget_s=float(config.get("time_budget_s") or platform.settings.default_time_budget_s),
        column_types=types,
        **series_layout(config),
        **(config.get("options") or {}),
    )
    attach_backbone(estimator, platform.settings)  # the named backbone's folder, from the settings
    return estimator


def fit_estimator(
    platform: Platform,
    config: Mapping[str, Any],
    frame: pd.DataFrame,
    types: dict[str, str],
    progress: ProgressFn,
    span: tuple[float, float] = (0.02, 0.95),
    estimator: Any = None,
) -> Any:
    """``estimator`` (default: a new one of ``config``, see :func:`configured`) fitted on ``frame``
    with the column ``types``; its progress reported within ``span``."""
    estimator = estimator if estimator is not None else configured(platform, config, types)
    low, width = span[0], span[1] - span[0]
    estimator.fit(frame, config.get("target") or "", progress=lambda f, s, m: progress(low + width * f, s, m))
    return estimator


def store_estimator(
    platform: Platform,
    job: Job,
    estimator: Any,
    *,
    model: str,
    frame: pd.DataFrame,
    lineage: dict[str, Any],
    data_warnings: list[str],
    report_extra: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Save the fitted ``estimator`` with the drift profile of its training table ``frame`` and
    register it as the next version of ``model`` (of the task ``lineage["task"]``): all or nothing
    (see :func:`~shopfloor.jobs.registering.register_version`), within the output quota.
    ``data_warnings`` (the request's checks of the data) lead the report's warnings; ``report_extra``
    is added to the report (a retraining's gate)."""
    drift_files, no_profile = training_files(estimator, frame, seed=int(lineage.get("seed") or 0))
    files = {**estimator.save(), **drift_files}
    check_output(platform, job.tenant, sum(len(data) for data in files.values()))
    report = dict(estimator.report_)
    report["warnings"] = [
        *({"code": "data", "message": w} for w in data_warnings),
        *(report.get("warnings") or []),
        *([{"code": "drift-profile", "message": no_profile}] if no_profile else []),
    ]
    report.update(report_extra or {})
    return register_version(
        platform,
        tenant=job.tenant,
        model=model,
        task=lineage["task"],
        files=files,
        report=report,
        input_schema=estimator.input_schema_,
        lineage={**lineage, "job_id": job.id, "packages": package_versions()},
        job_id=job.id,
        wait_s=platform.settings.store_outage_wait_s,  # an accepted job outlives a short store outage
    )

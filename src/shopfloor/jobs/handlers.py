"""What each job type does. A handler gets the platform, the job and a progress callback."""

from __future__ import annotations

import logging
import platform as pyplatform
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.export import to_safe_csv
from shopfloor.data.parse import read_table
from shopfloor.data.series import SeriesSpec, spec_kwargs
from shopfloor.data.stored import frame_for_learning
from shopfloor.jobs.optimize_job import run_optimize
from shopfloor.jobs.profiling import training_files
from shopfloor.jobs.registering import register_version
from shopfloor.jobs.synthesize_job import run_synthesize
from shopfloor.registry.entities import Job
from shopfloor.security.limits import check_output
from shopfloor.storage.base import patiently
from shopfloor.storage.scratch import scratch_file
from shopfloor.tasks import catalog
from shopfloor.tasks.backbones import attach_backbone
from shopfloor.tasks.base import ProgressFn

log = logging.getLogger(__name__)

#: The file name of a batch job's scored table, beside the job's input.
BATCH_RESULT = "result.csv"
_PACKAGES = ("shopfloor", "numpy", "pandas", "scikit-learn", "lightgbm", "shap", "skops", "pyarrow", "torch")


def package_versions() -> dict[str, str]:
    out = {"python": pyplatform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def run_train(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    p = job.params
    progress(0.01, "loading data", "reading the dataset")
    dataset = platform.store.get_dataset(job.tenant, p["dataset_id"])
    exclude = list(p.get("exclude") or [])
    wait_s = platform.settings.store_outage_wait_s  # an accepted job outlives a short store outage
    frame, types = patiently(
        lambda: frame_for_learning(platform, dataset, exclude), wait_s, f"reading dataset {dataset.id}"
    )
    layout: dict[str, Any] = {}
    if catalog.capabilities(p["task"]).inputs == "series":
        layout = spec_kwargs(SeriesSpec(p["asset_column"], p["time_column"], tuple(p["sensors"])))
    estimator = catalog.make_estimator(
        p["task"],
        metric=p.get("metric"),
        seed=int(p.get("seed") or 0),
        time_budget_s=float(p.get("time_budget_s") or platform.settings.default_time_budget_s),
        column_types=types,
        **layout,
        **(p.get("options") or {}),
    )
    attach_backbone(estimator, platform.settings)  # the named backbone's folder, from the settings
    started = time.monotonic()
    estimator.fit(frame, p.get("target") or "", progress=lambda f, s, m: progress(0.02 + 0.93 * f, s, m))
    progress(0.96, "profiling", "the training profile that drift checks compare new data with")
    drift_files, no_profile = training_files(estimator, frame, seed=int(p.get("seed") or 0))
    progress(0.98, "saving", "writing the model artifacts")
    files = {**estimator.save(), **drift_files}
    check_output(platform, job.tenant, sum(len(data) for data in files.values()))
    report = dict(estimator.report_)
    report.setdefault("warnings", [])
    report["warnings"] = [
        *({"code": "data", "message": w} for w in p.get("warnings", [])),
        *report["warnings"],
        *([{"code": "drift-profile", "message": no_profile}] if no_profile else []),
    ]
    lineage = {
        "dataset_id": dataset.id,
        "dataset_name": dataset.name,
        "dataset_version": dataset.version,
        "dataset_sha256": dataset.sha256,
        "target": p.get("target"),
        **({"series": layout} if layout else {}),
        **({"options": p.get("options") or {}} if layout or p.get("options") else {}),
        "exclude": exclude,
        "task": p["task"],
        "seed": int(p.get("seed") or 0),
        "job_id": job.id,
        "train_seconds": round(time.monotonic() - started, 3),
        "packages": package_versions(),
    }
    version = register_version(
        platform,
        tenant=job.tenant,
        model=p["model_name"],
        task=p["task"],
        files=files,
        report=report,
        input_schema=estimator.input_schema_,
        lineage=lineage,
        job_id=job.id,
        wait_s=wait_s,
    )
    return {"model": version.model, "version": version.version}


def run_batch(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    p = job.params
    progress(0.02, "loading", "reading the input file and the model")
    wait_s = platform.settings.store_outage_wait_s  # an accepted job outlives a short store outage
    loaded = patiently(
        lambda: platform.models.get(job.tenant, p["model"], int(p["version"])), wait_s, "loading the model"
    )
    frame = patiently(lambda: _read_input(platform, job), wait_s, "reading the input").reset_index(drop=True)
    layout = loaded.version.report.get("series")
    chunks, n, done = [], len(frame), 0
    whole = catalog.capabilities(loaded.version.task).whole_batch  # one stream: never cut in blocks
    size = max(n, 1) if whole else max(1000, n // 20 or 1)
    for part in _batches(frame, layout["asset"] if layout else None, size):
        out = loaded.estimator.predict_frame(part)
        out.index = part.index
        chunks.append(out)
        done += len(part)
        progress(0.05 + 0.9 * done / max(n, 1), "scoring", f"{done} of {n} rows")
    scored = pd.concat([frame, pd.concat(chunks).reindex(frame.index)], axis=1)
    result: dict[str, Any] = {"model": p["model"], "version": int(p["version"]), "rows": n}
    if p.get("label_column"):
        result["evaluation"] = loaded.estimator.evaluate_batch(scored, p["label_column"], layout)
    key = f"{job.tenant}/jobs/{job.id}/{BATCH_RESULT}"
    data = to_safe_csv(scored)  # no formulas for spreadsheets
    check_output(platform, job.tenant, len(data))
    digest = patiently(lambda: platform.sealed.put(job.tenant, key, data), wait_s, "storing the result")
    platform.store.add_job_bytes(job.id, len(data))
    return {**result, "artifact": key, "sha256": digest}


def _batches(frame: pd.DataFrame, asset: str | None, size: int) -> Iterator[pd.DataFrame]:
    """Row blocks of about ``size`` rows; for sensor models, whole assets only (a window never
    straddles two blocks). Blocks keep the frame's index so the results can be put back in order."""
    if asset is None:
        for start in range(0, len(frame), size):
            yield frame.iloc[start : start + size]
        return
    group: list[pd.DataFrame] = []
    rows = 0
    for _, rows_of_asset in frame.groupby(asset, sort=False):
        group.append(rows_of_asset)
        rows += len(rows_of_asset)
        if rows >= size:
            yield pd.concat(group)
            group, rows = [], 0
    if group:
        yield pd.concat(group)


def _read_input(platform: Platform, job: Job) -> pd.DataFrame:
    """The batch input, decrypted. read_table needs a path (it streams its checks), so the
    plaintext lives in a scratch file (in memory only) for the duration of the parse only."""
    p = job.params
    data = platform.sealed.get(job.tenant, p["input"], p.get("input_sha256"))
    with scratch_file(platform.scratch, f"{job.id}.in") as tmp:
        tmp.write_bytes(data)
        return read_table(tmp, p.get("filename"))


HANDLERS: dict[str, Callable[[Platform, Job, ProgressFn], dict[str, Any]]] = {
    "train": run_train,
    "batch_predict": run_batch,
    "synthesize": run_synthesize,
    "optimize": run_optimize,
}

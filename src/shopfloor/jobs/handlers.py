"""What each job type does. A handler gets the platform, the job and a progress callback."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.export import to_safe_csv
from shopfloor.data.parse import read_table
from shopfloor.data.stored import frame_for_learning
from shopfloor.jobs.lookout_ingest import run_lookout_ingest
from shopfloor.jobs.lookout_train import run_lookout_train
from shopfloor.jobs.optimize_job import run_optimize
from shopfloor.jobs.retrain_job import run_retrain
from shopfloor.jobs.synthesize_job import run_synthesize
from shopfloor.jobs.training import fit_estimator, series_layout, store_estimator
from shopfloor.registry.entities import Job
from shopfloor.security.limits import check_output
from shopfloor.storage.base import patiently
from shopfloor.storage.scratch import scratch_file
from shopfloor.tasks import catalog
from shopfloor.tasks.base import ProgressFn

log = logging.getLogger(__name__)

#: The file name of a batch job's scored table, beside the job's input.
BATCH_RESULT = "result.csv"


def run_train(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    p = job.params
    progress(0.01, "loading data", "reading the dataset")
    dataset = platform.store.get_dataset(job.tenant, p["dataset_id"])
    exclude = list(p.get("exclude") or [])
    wait_s = platform.settings.store_outage_wait_s  # an accepted job outlives a short store outage
    frame, types = patiently(
        lambda: frame_for_learning(platform, dataset, exclude), wait_s, f"reading dataset {dataset.id}"
    )
    started = time.monotonic()
    estimator = fit_estimator(platform, p, frame, types, progress)
    progress(0.96, "saving", "writing the model artifacts and the profile drift checks compare with")
    layout = series_layout(p)
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
        "train_seconds": round(time.monotonic() - started, 3),
    }
    version = store_estimator(
        platform,
        job,
        estimator,
        model=p["model_name"],
        frame=frame,
        lineage=lineage,
        data_warnings=p.get("warnings", []),
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
        started = time.perf_counter()
        out = loaded.estimator.predict_frame(part)
        out.index = part.index
        chunks.append(out)
        _log_batch(platform, job, loaded, part, out, time.perf_counter() - started)
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
    platform.prediction_log.flush()  # the logged rows are in the registry when the job reports success
    return {**result, "artifact": key, "sha256": digest}


def _log_batch(
    platform: Platform, job: Job, loaded: Any, part: pd.DataFrame, out: pd.DataFrame, seconds: float
) -> None:
    """Log the rows of one scored block that the model's rate samples (the block's time as latency;
    the row number in the uploaded table as the index; the id of the request that queued the job)."""
    mv, log = loaded.version, platform.prediction_log
    picked = log.sample(job.tenant, mv.model, len(part))
    if not picked:
        return
    rows = list(picked)
    log.add(
        job.tenant,
        mv.model,
        mv.version,
        "batch",
        schema=mv.input_schema,
        records=part.iloc[rows].to_dict("records"),
        answers=loaded.estimator.frame_answers(out.iloc[rows]),
        latency_s=seconds,
        request_id=job.request_id,
        picked=range(len(rows)),
        positions=[int(i) for i in part.index[rows]],
    )


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
    "retrain": run_retrain,
    "lookout_train": run_lookout_train,
    "lookout_ingest": run_lookout_ingest,
}

"""Starting, reading and cancelling jobs. The work itself runs in :mod:`shopfloor.jobs`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopfloor.data.checks import check_training_request
from shopfloor.data.parse import read_table
from shopfloor.data.upload import receive_upload
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.evaluation.metrics import check_metric
from shopfloor.platform import Platform
from shopfloor.registry.entities import Job
from shopfloor.services.datasets import load_frame
from shopfloor.services.ids import new_id
from shopfloor.tasks.catalog import estimator_class, task_kind

BATCH_INPUT = "input.csv"
BATCH_RESULT = "result.csv"


def create_train_job(platform: Platform, tenant: str, request: dict[str, Any]) -> Job:
    """Check a training request against its dataset and queue it. Nothing is stored if a check fails."""
    estimator_class(request["task"])  # unknown task -> 422
    kind = task_kind(request["task"])
    if request.get("metric") is not None:
        try:
            check_metric(kind, request["metric"])
        except InvalidInput as exc:
            raise InvalidInput(
                exc.detail, errors=[{"loc": ["body", "metric"], "msg": "unknown metric"}]
            ) from None
    dataset = platform.store.get_dataset(tenant, request["dataset_id"])
    names = {c["name"] for c in dataset.columns}
    frame = load_frame(platform, dataset, [request["target"]]) if request["target"] in names else None
    warnings = check_training_request(
        dataset.columns,
        request["target"],
        list(request.get("exclude") or []),
        kind,
        frame,
    )
    params = {**request, "dataset_sha256": dataset.sha256, "warnings": warnings}
    return platform.store.create_job(id=new_id("job"), tenant=tenant, type="train", params=params)


async def create_batch_job(
    platform: Platform, tenant: str, model: str, version: int | str | None, source: Any, filename: str | None
) -> Job:
    """Check an uploaded table against the model's inputs and queue a batch scoring job."""
    from starlette.concurrency import run_in_threadpool

    mv = platform.models.resolve(tenant, model, version)
    job_id = new_id("job")
    tmp = platform.scratch / f"{job_id}.in"
    prefix = f"{tenant}/jobs/{job_id}"
    try:
        await receive_upload(source, tmp, platform.settings.max_upload_bytes)
        frame = await run_in_threadpool(read_table, tmp, filename)
        missing = [c["name"] for c in mv.input_schema if c["name"] not in frame.columns]
        if missing:
            raise InvalidInput(
                f"the file lacks {len(missing)} input column(s) the model needs: {', '.join(missing)}",
                errors=[{"loc": ["file", "columns", m], "msg": "column missing"} for m in missing],
            )
        platform.artifacts.put_file(f"{prefix}/{BATCH_INPUT}", tmp)
        params = {
            "model": model,
            "version": mv.version,
            "filename": filename,
            "rows": len(frame),
            "input": f"{prefix}/{BATCH_INPUT}",
        }
        try:
            return platform.store.create_job(id=job_id, tenant=tenant, type="batch_predict", params=params)
        except BaseException:
            platform.artifacts.delete_prefix(prefix)
            raise
    finally:
        tmp.unlink(missing_ok=True)


def result_file(platform: Platform, tenant: str, job_id: str) -> tuple[Path, str]:
    """The downloadable output of a finished job: (path, file name)."""
    job = platform.store.get_job(tenant, job_id)
    if job.status != "succeeded":
        raise Conflict(f"job {job_id} is {job.status}; its result is available once it has succeeded")
    key = (job.result or {}).get("artifact")
    if not key:
        raise NotFound(f"job {job_id} ({job.type}) has no downloadable result; see its 'result' field")
    return platform.artifacts.local_path(key), f"{job_id}.csv"

"""Azure Anomaly Detector v1.1 multivariate models over Shopfloor's anomaly family.

A translation layer: an Azure model is a Shopfloor ``anomaly`` model (label-free, per-sensor
contributions) trained by an ordinary training job; batch detection is an ordinary batch scoring
job; last-point detection is an ordinary prediction. Quotas, progress, sealed artifacts, audit and
the model registry apply as on the REST API.

* **Training** reads ``dataSource`` (:mod:`shopfloor.services.azure_mv_data`), keeps
  ``startTime``..``endTime``, aligns the variables (``alignPolicy``) and stores the result as a
  dataset (``azure-{modelId}``), whose one history is cut into :func:`segments` consecutive
  stretches: the family sets its threshold on folds of whole histories. ``slidingWindow`` sets the
  family's smoothing window (:func:`smoothing_window`).
* **Batch detection** aligns the new data as the model was trained, keeps the points before
  ``startTime`` that the window reads, and queues a batch job on that table; the result is read
  back from the job's sealed output (:mod:`shopfloor.services.azure_mv_views`).
* **Last detection** scores the last timestamp of the variables sent, with the window before it.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.context import Platform
from shopfloor.data import variables as shapes
from shopfloor.data.stored import UploadOptions
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.registry.azure_entities import AzureModel, AzureResult
from shopfloor.security.keys import Principal
from shopfloor.security.limits import limiter
from shopfloor.services import audit
from shopfloor.services import datasets as datasets_service
from shopfloor.services import jobs as jobs_service
from shopfloor.services import models as models_service
from shopfloor.services.azure_mv_data import read_variables
from shopfloor.services.azure_mv_views import batch_view, model_view, point_state
from shopfloor.services.queueing import check_room
from shopfloor.storage.scratch import scratch_file

#: The asset column of the stored table: the stretch of the one series a row belongs to.
SEGMENT = "_segment"
TIME = shapes.TIMESTAMP
#: The asset value of the series when it is scored (training stretches are ``part1`` ...).
SERIES = "series"
#: The most models a tenant keeps (the Azure service's limit per resource).
MAX_MODELS = 300
#: Points per training stretch aimed at, and the number of stretches allowed.
SEGMENT_POINTS = 200
MIN_SEGMENTS, MAX_SEGMENTS = 2, 5


def _invalid(code: str, msg: str, *where: str | int) -> InvalidInput:
    return InvalidInput(msg, errors=[{"loc": ["body", *where], "msg": msg, "type": code}])


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def smoothing_window(sliding_window: int) -> int:
    """The family's trailing-mean window for Azure's ``slidingWindow``: one point per 30 of it, so
    Azure's default of 300 gives the family's default of 10 (and 28, Azure's least, gives 1)."""
    return max(1, round(sliding_window / 30))


def segments(n: int) -> int:
    """Consecutive stretches an ``n``-point training series is cut into (2 to 5, ~200 points each)."""
    return int(min(MAX_SEGMENTS, max(MIN_SEGMENTS, n // SEGMENT_POINTS)))


def policy_of(info: dict[str, Any]) -> shapes.AlignPolicy:
    given = info.get("alignPolicy") or {}
    return shapes.AlignPolicy(
        mode=given.get("alignMode") or "Outer",
        fill=given.get("fillNAMethod") or "Linear",
        padding=given.get("paddingValue"),
    )


def _table(frame: pd.DataFrame, assets: np.ndarray) -> pd.DataFrame:
    """An aligned frame as the family's long table: stretch, ISO timestamp, one column per variable."""
    table = frame.reset_index(drop=True)
    table.insert(0, TIME, [t.isoformat() for t in frame.index])
    table.insert(0, SEGMENT, assets)
    return table


def _check_names(names: list[str]) -> None:
    clash = [n for n in names if n in (SEGMENT, TIME)]
    if clash:
        raise _invalid("InvalidModelArgument", f"a variable may not be named {clash[0]!r}", "dataSource")


# ------------------------------------------------------------------ training


def train(platform: Platform, principal: Principal, info: dict[str, Any]) -> AzureModel:
    """Check ``info`` (the Azure ModelInfo), read and align its data, store it as a dataset and
    queue the training job. Nothing is stored when a check fails."""
    tenant = principal.tenant
    start, end = _utc(info["startTime"]), _utc(info["endTime"])
    if start >= end:
        raise _invalid("InvalidModelArgument", "startTime must be before endTime", "startTime")
    policy = policy_of(info)
    shapes.check_policy(policy)
    if platform.store.list_azure_models(tenant, 0, 1)[1] >= MAX_MODELS:
        raise Conflict(f"this tenant has {MAX_MODELS} multivariate models; delete one to train another")
    check_room(platform, tenant)  # a job place, before reading anything
    variables = read_variables(platform, tenant, info["dataSource"], info.get("dataSchema") or "OneTable")
    _check_names(list(variables))
    aligned = shapes.align(variables, policy, start, end)
    n = len(aligned.frame)
    least = max(int(info["slidingWindow"]), 2 * (len(variables) + 1))
    if n < least:
        raise _invalid(
            "InvalidModelArgument",
            f"{n} timestamps between startTime and endTime; training on {len(variables)} variables with "
            f"slidingWindow {info['slidingWindow']} needs at least {least}",
            "startTime",
        )
    parts = np.array_split(np.arange(n), segments(n))
    assets = np.concatenate([np.full(len(p), f"part{i + 1}") for i, p in enumerate(parts)])
    model_id = str(uuid.uuid4())
    dataset = _store_table(platform, principal, _table(aligned.frame, assets), f"azure-{model_id}")
    options = {"window": smoothing_window(int(info["slidingWindow"]))}
    job = jobs_service.create_train_job(
        platform,
        principal,
        {
            "task": "anomaly",
            "dataset_id": dataset.id,
            "model_name": f"azure-{model_id}",
            "asset_column": SEGMENT,
            "time_column": TIME,
            "options": options,
            "seed": 0,
            "time_budget_s": None,
            "metric": None,
            "target": None,
            "exclude": [],
        },
    )
    stored = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in info.items()}
    stored.update(startTime=start.isoformat(), endTime=end.isoformat())
    stored["alignPolicy"] = {
        "alignMode": policy.mode,
        "fillNAMethod": policy.fill,
        "paddingValue": policy.padding,
    }
    return platform.store.add_azure_model(
        tenant=tenant,
        model_id=model_id,
        model=f"azure-{model_id}",
        job_id=job.id,
        dataset_id=dataset.id,
        info=stored,
        variable_states=aligned.states,
    )


def _store_table(platform: Platform, principal: Principal, table: pd.DataFrame, name: str) -> Any:
    """The aligned training table as a dataset (a sensor dataset: stretch and time columns), within
    the tenant's storage quota, audited as an upload."""
    data = table.to_csv(index=False).encode()
    limiter(platform).check_storage(principal.tenant, len(data))
    options = UploadOptions(format="csv", asset_column=SEGMENT, time_column=TIME)
    with scratch_file(platform.scratch, f"{name}.csv") as tmp:
        tmp.write_bytes(data)
        dataset = datasets_service.store_upload(
            platform,
            principal.tenant,
            tmp,
            name=name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            options=options,
            filename=f"{name}.csv",
        )
    audit.record(platform, principal, "dataset.upload", dataset.id, size_bytes=dataset.size_bytes)
    return dataset


# ------------------------------------------------------------------ reading, listing, deleting


def get_model(platform: Platform, tenant: str, model_id: str) -> dict[str, Any]:
    model = platform.store.get_azure_model(tenant, model_id)
    return model_view(model, platform.store.get_job(tenant, model.job_id))


def list_models(platform: Platform, tenant: str, skip: int, top: int) -> tuple[list[dict[str, Any]], int]:
    """A page of the tenant's models (newest first) in Azure's shape, and how many there are."""
    found, total = platform.store.list_azure_models(tenant, skip, top)
    return [model_view(m, platform.store.get_job(tenant, m.job_id)) for m in found], total


def delete_model(platform: Platform, principal: Principal, model_id: str) -> None:
    """Remove the Azure model, its batch results, and the Shopfloor model behind it; a training or
    detection still running is cancelled."""
    tenant = principal.tenant
    model, results = platform.store.delete_azure_model(tenant, model_id)
    for job_id in (model.job_id, *(r.job_id for r in results)):
        if not platform.store.get_job(tenant, job_id).terminal:
            platform.store.request_cancel(tenant, job_id)
    try:
        gone = models_service.delete_model(platform, tenant, model.model)
    except NotFound:  # never trained (failed, or cancelled now)
        gone = []
    audit.record(platform, principal, "model.delete", model.model, model=model.model, azure_model_id=model_id,
                 versions=len(gone))


def _ready(platform: Platform, tenant: str, model_id: str) -> tuple[AzureModel, int]:
    """The model and its trained version; Conflict (ModelNotReady) before it is READY."""
    model = platform.store.get_azure_model(tenant, model_id)
    job = platform.store.get_job(tenant, model.job_id)
    if job.status != "succeeded":
        msg = f"model {model_id} is not ready (training is {job.status}); detect once its status is READY"
        raise Conflict(msg, errors=[{"loc": ["path", "modelId"], "msg": msg, "type": "ModelNotReady"}])
    return model, int((job.result or {})["version"])


def _variable_names(model: AzureModel) -> list[str]:
    return [str(s["variable"]) for s in model.variable_states]


# ------------------------------------------------------------------ detection


async def detect_batch(
    platform: Platform, principal: Principal, model_id: str, setup: dict[str, Any]
) -> AzureResult:
    """Read and align ``setup``'s data as the model was trained and queue the batch scoring job."""
    from starlette.concurrency import run_in_threadpool

    tenant = principal.tenant
    model, version = _ready(platform, tenant, model_id)
    start, end = _utc(setup["startTime"]), _utc(setup["endTime"])
    if start >= end:
        raise _invalid("BadArgument", "startTime must be before endTime", "startTime")
    check_room(platform, tenant)
    aligned = await run_in_threadpool(_batch_data, platform, tenant, model, setup, end)
    index = aligned.frame.index
    first = int(np.searchsorted(index, pd.Timestamp(start)))
    if first >= len(index):
        raise _invalid("BadArgument", "the data has no timestamp between startTime and endTime", "startTime")
    window = int(smoothing_window(int(model.info["slidingWindow"])))
    frame = aligned.frame.iloc[max(0, first - (window - 1)) :]  # the points the window reads before
    data = _table(frame, np.full(len(frame), SERIES)).to_csv(index=False).encode()
    job = await jobs_service.create_batch_job(
        platform, principal, model.model, version, _Body(data), "detect-batch.csv"
    )
    stored = {k: (_utc(v).isoformat() if isinstance(v, datetime) else v) for k, v in setup.items()}
    return platform.store.add_azure_result(
        tenant=tenant,
        result_id=str(uuid.uuid4()),
        model_id=model_id,
        job_id=job.id,
        setup=stored,
        variable_states=aligned.states,
    )


def _batch_data(
    platform: Platform, tenant: str, model: AzureModel, setup: dict[str, Any], end: datetime
) -> shapes.Aligned:
    found = read_variables(platform, tenant, setup["dataSource"], model.info.get("dataSchema") or "OneTable")
    names = _variable_names(model)
    missing = [n for n in names if n not in found]
    if missing:
        raise _invalid(
            "BadArgument",
            f"the data lacks {len(missing)} variable(s) the model was trained on: {', '.join(missing)}",
            "dataSource",
        )
    return shapes.align({n: found[n] for n in names}, policy_of(model.info), None, end)


class _Body:
    """Bytes read as an upload is (``async read``)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def batch_result(platform: Platform, tenant: str, result_id: str) -> dict[str, Any]:
    """The batch detection in Azure's shape: its status, and the results once the job succeeded."""
    result = platform.store.get_azure_result(tenant, result_id)
    job = platform.store.get_job(tenant, result.job_id)
    scored = None
    if job.status == "succeeded":
        data, _ = jobs_service.result_file(platform, tenant, job.id)
        scored = pd.read_csv(io.BytesIO(data))
    return batch_view(result, job, scored, TIME)


def detect_last(
    platform: Platform, principal: Principal, model_id: str, variables: list[dict[str, Any]], top: int
) -> dict[str, Any]:
    """Score the last timestamp of ``variables`` (Azure VariableValues) with the model."""
    tenant = principal.tenant
    model, version = _ready(platform, tenant, model_id)
    names = _variable_names(model)
    series: dict[str, pd.Series] = {}
    for i, item in enumerate(variables):
        name = item["variable"]
        if name in series:
            raise _invalid("BadArgument", f"variable {name!r} is given twice", "variables", i, "variable")
        series[name] = shapes.values_series(name, item["timestamps"], item["values"], f"variables[{i}]")
    missing = [n for n in names if n not in series]
    if missing:
        raise _invalid(
            "BadArgument",
            f"variables lacks {len(missing)} variable(s) the model was trained on: {', '.join(missing)}",
            "variables",
        )
    aligned = shapes.align({n: series[n] for n in names}, policy_of(model.info))
    window = int(smoothing_window(int(model.info["slidingWindow"])))
    frame = aligned.frame.iloc[-window:]  # the last point and the points its window reads
    records = _table(frame, np.full(len(frame), SERIES)).to_dict("records")
    answer = models_service.predict(platform, tenant, model.model, version, records)
    audit.buffer(platform).count(principal, model.model, version, "predict", len(records))
    point = answer["predictions"][0]["points"][-1]
    return {"variableStates": aligned.states, "results": [point_state(frame.index[-1], point, top)]}

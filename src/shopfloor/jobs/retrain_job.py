"""The "retrain" job: a model's champion configuration fitted again on new data, gated, registered,
and promoted when the request asked for it and the gate passed.

The request was checked when the job was queued (:mod:`shopfloor.services.retraining`): the
datasets have every column the champion reads, of types it can read, and the parameters hold
the champion's configuration and the column types it was trained with. The new version is
registered whatever the gate says (its report holds the gate); ``production`` moves only when
the gate passed and still points at the champion the gate compared with.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.stored import load_frame
from shopfloor.errors import Conflict
from shopfloor.jobs.gate import champion_name, evaluate
from shopfloor.jobs.training import configured, fit_estimator, series_layout, store_estimator
from shopfloor.registry.entities import PRODUCTION, AuditEvent, Dataset, Job, ModelVersion
from shopfloor.storage.base import patiently
from shopfloor.tasks.base import ProgressFn


def run_retrain(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    """Result: the new version, the champion it was compared with, the gate and the promotion."""
    p = job.params
    wait_s = platform.settings.store_outage_wait_s  # an accepted job outlives a short store outage
    progress(0.01, "loading data", f"reading {len(p['dataset_ids'])} dataset(s)")
    datasets = [platform.store.get_dataset(job.tenant, d) for d in p["dataset_ids"]]
    types = dict(p["types"])
    estimator = configured(platform, p["config"], types)
    frame, seen = patiently(
        lambda: combined(platform, job, datasets, estimator), wait_s, "reading the datasets"
    )
    started = time.monotonic()
    fit_estimator(platform, p["config"], frame, types, progress, span=(0.02, 0.85), estimator=estimator)
    train_seconds = round(time.monotonic() - started, 3)
    champion = platform.store.get_version(job.tenant, p["model_name"], int(p["champion"]))
    progress(0.86, "gate", f"comparing the new version with {champion_name(champion)}")
    loaded = patiently(
        lambda: platform.models.get(job.tenant, champion.model, champion.version), wait_s, "loading it"
    )
    target = str(p["config"].get("target") or "")
    gate = evaluate(estimator, loaded.estimator, champion, frame, seen, platform.live_labelled, target)
    progress(0.95, "saving", "writing the model artifacts")
    version = store_estimator(
        platform,
        job,
        estimator,
        model=p["model_name"],
        frame=frame,
        lineage=_lineage(p, datasets, champion, train_seconds),
        data_warnings=p.get("warnings", []),
        report_extra={"gate": gate},
    )
    progress(0.99, "promoting" if p.get("promote") == "if_gate_passes" else "done", gate["summary"])
    return {
        "model": version.model,
        "version": version.version,
        "champion": champion.version,
        "gate": gate,
        "promotion": _promote(platform, job, version, gate),
    }


def combined(
    platform: Platform, job: Job, datasets: list[Dataset], estimator: Any
) -> tuple[pd.DataFrame, np.ndarray]:
    """The job's datasets as one training table (see :func:`combined_frame`)."""
    p = job.params
    seen = set(p.get("seen_sha256") or [])
    return combined_frame(platform, datasets, list(p["columns"]), dict(p["types"]), seen, estimator)


def combined_frame(
    platform: Platform,
    datasets: list[Dataset],
    columns: list[str],
    types: dict[str, str],
    seen_sha256: set[str],
    estimator: Any,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The datasets' rows as one table of the ``columns`` the champion reads (numbers read as
    numbers), joined as the family joins datasets (``estimator.combine``), and which rows come
    from data the champion was trained on (datasets whose sha256 is in ``seen_sha256``)."""
    frames, seen = [], []
    for dataset in datasets:
        part = load_frame(platform, dataset, columns)
        for name, kind in types.items():
            if kind == "numeric" and name in part.columns:
                part[name] = pd.to_numeric(part[name], errors="coerce").astype(float)
        frames.append(part)
        seen.append(np.full(len(part), dataset.sha256 in seen_sha256))
    frame = estimator.combine(frames, [d.name for d in datasets]) if len(frames) > 1 else frames[0]
    marks = np.concatenate(seen)
    if len(frame) != len(marks):  # a family's combine keeps every row, in order
        raise RuntimeError(f"combining {len(datasets)} datasets gave {len(frame)} rows, not {len(marks)}")
    return frame.reset_index(drop=True), marks


def _lineage(
    p: dict[str, Any], datasets: list[Dataset], champion: ModelVersion, train_seconds: float
) -> dict[str, Any]:
    config = p["config"]
    layout = series_layout(config)
    newest = datasets[-1]  # the new data, when the request lists the original first
    return {
        "dataset_id": newest.id,
        "dataset_name": newest.name,
        "dataset_version": newest.version,
        "dataset_sha256": newest.sha256,
        "datasets": [
            {"id": d.id, "name": d.name, "version": d.version, "sha256": d.sha256, "rows": d.rows}
            for d in datasets
        ],
        "target": config.get("target"),
        **({"series": layout} if layout else {}),
        **({"options": config.get("options") or {}} if layout or config.get("options") else {}),
        "exclude": list(config.get("exclude") or []),
        "task": config["task"],
        "seed": int(config.get("seed") or 0),
        "config": config,
        "column_types": dict(p["types"]),
        "retrained_from": {"version": champion.version, "job_id": champion.job_id},
        "train_seconds": train_seconds,
    }


def _promote(platform: Platform, job: Job, version: ModelVersion, gate: dict[str, Any]) -> dict[str, Any]:
    """Move production to the new version when asked and the gate passed, only from the champion."""
    p = job.params
    name, champion = version.model, int(p["champion"])
    if p.get("promote") != "if_gate_passes":
        return {
            "requested": False,
            "promoted": False,
            "message": f"not requested (promote: never): promote version {version.version} with "
            f"POST /v1/models/{name}/promote",
        }
    if not gate["passed"]:
        return {
            "requested": True,
            "promoted": False,
            "message": f"not promoted: the gate failed; production stays at version {champion}",
        }
    try:
        platform.store.set_alias_if(job.tenant, name, PRODUCTION, version.version, champion)
    except Conflict:
        now = platform.store.get_model(job.tenant, name).aliases.get(PRODUCTION)
        if now == version.version:  # this job ran again after it had promoted
            return _promoted(champion, now)
        where = f"version {now}" if now is not None else "no version"
        message = (
            f"not promoted: production was moved to {where} after the gate compared with version "
            f"{champion}; version {version.version} passed its gate against version {champion} only"
        )
        _audit(platform, job, version, "refused", reason=message)
        return {"requested": True, "promoted": False, "message": message}
    platform.generation.bump()  # this process at once; the others at their next read
    _audit(platform, job, version, "ok")
    return _promoted(champion, version.version)


def _promoted(before: int, after: int) -> dict[str, Any]:
    return {
        "requested": True,
        "promoted": True,
        "previous": before,
        "message": f"production moved from version {before} to version {after}",
    }


def _audit(platform: Platform, job: Job, version: ModelVersion, outcome: str, **detail: Any) -> None:
    """The automatic promotion in the audit log, in the name of the key that asked for it."""
    who = job.params.get("requested_by") or {}
    event = AuditEvent(
        tenant=job.tenant,
        action="model.promote",
        outcome=outcome,
        key_id=who.get("key_id"),
        role=who.get("role"),
        target=f"{version.model}@{PRODUCTION}",
        detail={
            "model": version.model,
            "alias": PRODUCTION,
            "version": version.version,
            "previous": int(job.params["champion"]),
            "job_id": job.id,
            "automatic": True,
            **detail,
        },
        at=datetime.now(UTC),
    )
    platform.store.add_audit([event])

"""A Lookout for Equipment model's training job (type ``lookout_train``).

The work of an ordinary training job of the label-free ``anomaly`` family (same fitting, sealed
artifacts, registered version, progress and quotas), on the history Lookout's request describes:

1. the dataset's wide table (``Timestamp`` and ``component\\sensor`` columns), resampled to the
   target sampling rate (readings averaged per bin);
2. rows where the off condition holds left out of everything (training and evaluation);
3. training rows: the training range, less the rows inside labelled anomaly ranges (Lookout
   learns normal behaviour from what is not labelled abnormal); cut into contiguous segments of at
   most a quarter of the rows, which the family's folds keep whole;
4. evaluation: the evaluation range scored by the fitted model; its events are the predicted
   ranges, matched with the labelled ranges there for the model metrics and the quality verdict
   (:mod:`shopfloor.evaluation.event_ranges`), kept in the version's report under ``lookout``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.lookout import TIME, OffCondition, in_ranges, resample, segments, within
from shopfloor.data.stored import load_frame
from shopfloor.errors import InvalidDataset
from shopfloor.evaluation.event_ranges import model_metrics, ranges_of
from shopfloor.jobs.training import fit_estimator, store_estimator
from shopfloor.registry.entities import Job
from shopfloor.storage.base import patiently
from shopfloor.tasks.base import ProgressFn

#: The asset column of the training table: the segment each row belongs to.
SEGMENT = "segment"
#: Segments the training history is cut into at least (the family needs two assets; folds need more).
MIN_SEGMENTS = 4


def _when(value: str | None) -> datetime | None:
    return pd.Timestamp(value).to_pydatetime() if value else None


def prepared(platform: Platform, job: Job) -> tuple[pd.DataFrame, int]:
    """The dataset's sensors resampled, without the rows the off condition removes; their count."""
    p = job.params
    dataset = platform.store.get_dataset(job.tenant, p["dataset_id"])
    wait_s = platform.settings.store_outage_wait_s
    columns = [p["time_column"], *p["sensors"]]
    raw = patiently(lambda: load_frame(platform, dataset, columns), wait_s, "reading the dataset")
    frame = raw.rename(columns={p["time_column"]: TIME})
    frame[TIME] = pd.to_datetime(frame[TIME], utc=True, errors="coerce", format="mixed")
    frame = frame.dropna(subset=[TIME])
    for s in p["sensors"]:
        frame[s] = pd.to_numeric(frame[s], errors="coerce")
    frame = resample(frame, p.get("sampling_s"))
    off = OffCondition(**p["off"]) if p.get("off") else None
    mask = off.off_rows(frame) if off else np.zeros(len(frame), dtype=bool)
    return frame.loc[~mask].reset_index(drop=True), int(mask.sum())


def _training_rows(frame: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    start, end = p["training"]
    labels = [(_when(a), _when(b)) for a, b in p.get("labels", [])]
    rows = within(frame, _when(start), _when(end))
    rows = rows.loc[~in_ranges(rows[TIME], labels)].reset_index(drop=True)  # type: ignore[arg-type]
    if len(rows) < 2 * MIN_SEGMENTS:
        raise InvalidDataset(
            f"{len(rows)} rows in the training range once off and labelled-abnormal rows are left out; "
            "too few to learn from"
        )
    cut = segments(rows[TIME], p.get("sampling_s"), most_rows=-(-len(rows) // MIN_SEGMENTS))
    return rows.assign(**{SEGMENT: cut})


def _evaluate(estimator: Any, frame: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    """The model metrics of the evaluation range (see :func:`model_metrics`)."""
    if not p.get("evaluation"):
        return model_metrics([], [], {"evaluation_rows": 0, "note": "no evaluation range was given"})
    start, end = (_when(t) for t in p["evaluation"])
    rows = within(frame, start, end).reset_index(drop=True)
    run = segments(rows[TIME], p.get("sampling_s"))
    labels = [
        (a, b)
        for a, b in ((_when(x), _when(y)) for x, y in p.get("labels", []))
        if a is not None and b is not None and (end is None or a < end) and (start is None or b >= start)
    ]
    results: list[dict[str, Any]] = []
    if len(rows):
        records = rows.assign(**{SEGMENT: run}).to_dict("records")
        results = estimator.predict(records)
    flagged = sum(sum(pt["flagged"] for pt in r["points"]) for r in results)
    return model_metrics(
        labels,
        ranges_of(results),
        {
            "evaluation_rows": len(rows),
            "anomalous_rows": int(flagged),
            "threshold": float(estimator.threshold_),
        },
    )


def run_lookout_train(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    p = job.params
    progress(0.01, "loading data", "reading the dataset")
    frame, off_rows = prepared(platform, job)
    train = _training_rows(frame, p)
    started = time.monotonic()
    config = {
        "task": "anomaly",
        "asset_column": SEGMENT,
        "time_column": TIME,
        "sensors": list(p["sensors"]),
        "options": dict(p.get("options") or {}),
        "seed": 0,
        "time_budget_s": p.get("time_budget_s"),
    }
    types = {TIME: "datetime", SEGMENT: "categorical", **dict.fromkeys(p["sensors"], "numeric")}
    estimator = fit_estimator(platform, config, train, types, progress, span=(0.05, 0.85))
    progress(0.88, "evaluation", "scoring the evaluation range")
    metrics = _evaluate(estimator, frame, p)
    metrics.update(training_rows=len(train), off_rows=off_rows, segments=int(train[SEGMENT].nunique()))
    progress(0.96, "saving", "writing the model artifacts")
    lineage = {
        "dataset_id": p["dataset_id"],
        "lookout": {k: p.get(k) for k in ("training", "evaluation", "sampling_s", "off", "dataset_name")},
        "series": {"asset": SEGMENT, "time": TIME, "sensors": list(p["sensors"])},
        "options": config["options"],
        "task": "anomaly",
        "seed": 0,
        "train_seconds": round(time.monotonic() - started, 3),
    }
    version = store_estimator(
        platform,
        job,
        estimator,
        model=p["model_name"],
        frame=train,
        lineage=lineage,
        data_warnings=[],
        report_extra={"lookout": metrics},
    )
    return {"model": version.model, "version": version.version, "quality": metrics["quality"]}

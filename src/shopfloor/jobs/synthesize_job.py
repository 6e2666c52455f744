"""The "synthesize" job: a synthetic copy of a dataset, stored as a new dataset, with its report."""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.data.stored import frame_for_learning, store_frame
from shopfloor.data.synth_report import synthesize_with_report
from shopfloor.progress import ProgressFn
from shopfloor.registry.entities import Job
from shopfloor.security.limits import storage_limit


def run_synthesize(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    """Result: ``{"dataset_id", "name", "version", "rows", "source_dataset_id", "report"}``.

    The report lives only here, in the job result (the dataset entity has no report field).
    """
    p = job.params
    progress(0.01, "loading data", "reading the dataset")
    dataset = platform.store.get_dataset(job.tenant, p["dataset_id"])
    exclude = list(p.get("exclude") or [])
    frame, types = frame_for_learning(platform, dataset, exclude)
    synth, report = synthesize_with_report(
        frame,
        types,
        int(p["rows"]),
        target=p.get("target"),
        seed=int(p.get("seed") or 0),
        progress=lambda f, s, m: progress(0.02 + 0.88 * f, s, m),
    )
    report["excluded"] = exclude
    progress(0.92, "saving", "storing the synthetic table as a new dataset")
    stored = store_frame(
        platform,
        job.tenant,
        synth,
        name=p["name"],
        scratch=platform.scratch,
        # Added only if it fits the tenant's storage quota; else the job fails, nothing kept.
        max_storage_bytes=storage_limit(platform, job.tenant),
    )
    return {
        "dataset_id": stored.id,
        "name": stored.name,
        "version": stored.version,
        "rows": stored.rows,
        "source_dataset_id": dataset.id,
        "report": report,
    }

"""The "lookout_ingest" job: a Lookout for Equipment data ingestion, stored as a Shopfloor dataset.

The request (:mod:`shopfloor.services.lookout.ingestion`) copied the component files from the
tenant's bucket, sealed, beside the job; this reads them, counts what Lookout's data-quality summary
counts, joins the components into one sensor table and stores it through the same path as an upload
(parse, profile, masking, sealed parquet, signed registry row, storage quota). The result holds
the Shopfloor dataset, the quality summary, the files summary and each sensor's statistics, which
DescribeDataIngestionJob, DescribeDataset and ListSensorStatistics read back.
"""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.data.lookout_ingest import (
    TIME,
    Component,
    ComponentTable,
    SensorCounts,
    component_frame,
    join,
    quality_summary,
    read_component_file,
    sensor_statistics,
)
from shopfloor.data.stored import store_frame
from shopfloor.errors import InvalidDataset
from shopfloor.progress import ProgressFn
from shopfloor.registry.entities import Job
from shopfloor.security.limits import storage_limit


def run_lookout_ingest(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    p = job.params
    bucket = p["bucket"]
    tables = {
        c["name"]: ComponentTable(Component(c["name"], c["time_column"], tuple(c["sensors"])))
        for c in p["components"]
    }
    discarded: list[dict[str, str]] = [{"Bucket": bucket, "Key": key} for key in p["discarded"]]
    reasons: list[str] = []
    files = p["files"]
    for at, f in enumerate(files):
        progress(0.02 + 0.6 * at / len(files), "reading", f"file {at + 1} of {len(files)}: {f['key']}")
        data = platform.sealed.get(job.tenant, f["input"], f["sha256"])
        reason = read_component_file(tables[f["component"]], data, f"s3://{bucket}/{f['key']}")
        if reason is not None:
            discarded.append({"Bucket": bucket, "Key": f["key"]})
            reasons.append(reason)
    progress(0.65, "checking", "joining the components and counting the data-quality issues")
    wide = join([component_frame(t) for t in tables.values()])
    if wide.empty or wide.drop(columns=[TIME]).notna().to_numpy().sum() == 0:
        why = "; ".join(reasons[:3]) or "no row had both a readable timestamp and a reading"
        raise InvalidDataset(f"nothing to ingest from s3://{bucket}: {why}")
    statistics = [
        sensor_statistics(name, sensor, wide, table.counts.get(sensor) or SensorCounts())
        for name, table in tables.items()
        for sensor in table.component.sensors
    ]
    progress(0.8, "saving", "storing the sensor table as a Shopfloor dataset (sealed)")
    stored = store_frame(
        platform,
        job.tenant,
        wide,
        name=p["dataset"],
        scratch=platform.scratch,
        max_storage_bytes=storage_limit(platform, job.tenant),
    )
    return {
        "dataset_id": stored.id,
        "version": stored.version,
        "rows": stored.rows,
        "size_bytes": int(sum(f["size"] for f in files)),
        "time_column": TIME,
        "sensors": [c for c in wide.columns if c != TIME],
        "start": wide[TIME].iloc[0].timestamp(),
        "end": wide[TIME].iloc[-1].timestamp(),
        "quality": quality_summary(list(tables.values()), statistics),
        "files": {
            "TotalNumberOfFiles": int(p["total_files"]),
            "IngestedNumberOfFiles": len(files) - len(reasons),
            "DiscardedFiles": discarded,
        },
        "discarded_reasons": reasons,
        "statistics": statistics,
    }


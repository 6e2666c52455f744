"""Drift checks: a window of recent rows against a model version's training profile.

:func:`frame_drift` is the one entry point (the API's drift routes and, per window, the
prediction log call it). The profile is the one stored with the version at training; a version
trained before profiles were kept gets one computed from its training dataset when that still
exists, else the check says that no profile exists and why. The last :data:`KEPT_PROFILES`
profiles read are kept in the process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.parse import read_table
from shopfloor.data.stored import frame_for_learning, load_frame
from shopfloor.data.upload import receive_upload
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.jobs.profiling import profile_of, window_of
from shopfloor.monitoring import plot
from shopfloor.monitoring.profile import FILES, Profile
from shopfloor.monitoring.report import DriftReport, drift_report, ranked
from shopfloor.monitoring.thresholds import MIN_WINDOW_ROWS, WINDOW_ROWS, Thresholds, check_window_rows
from shopfloor.registry.entities import ModelVersion
from shopfloor.registry.ids import new_id
from shopfloor.serving.cache import LoadedModel
from shopfloor.storage.scratch import scratch_file

#: Profiles kept read per process (stored ones, and those computed on demand for versions trained
#: before profiles were kept).
KEPT_PROFILES = 16
#: Bars of the distributions chart: the variables that moved most.
PLOT_TOP = 6
#: Points of the drift-over-time chart at most (the window is cut into this many parts).
TIMELINE_POINTS = 8

_profiles: OrderedDict[tuple[str, str], Profile] = OrderedDict()
_lock = threading.Lock()


def frame_drift(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    frame: pd.DataFrame,
    thresholds: Thresholds | None = None,
) -> DriftReport:
    """Compare the rows of ``frame`` with the training profile of model ``name`` (``version``: a
    number, an alias, or None for production) in ``tenant``.

    Raises ``NotFound`` (unknown model or version, other tenants' included), ``InvalidInput``
    (too few rows, input columns missing), ``PayloadTooLarge`` (too many rows), ``Conflict`` (the
    version has no profile and none can be made).
    """
    loaded = platform.models.get(tenant, name, version)
    profile = version_profile(platform, tenant, loaded)
    frame = frame.reset_index(drop=True)
    check_window_rows(len(frame))
    _check_columns(profile, frame)
    window = window_of(loaded.estimator, frame)
    return drift_report(profile, window, thresholds)


def check(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    frame: pd.DataFrame,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """:func:`frame_drift` as the API answers it: the report with the model and version it checked."""
    mv = platform.models.resolve(tenant, name, version)
    return report_view(frame_drift(platform, tenant, name, mv.version, frame, thresholds), mv)


def report_view(report: DriftReport, mv: ModelVersion) -> dict[str, Any]:
    return {"model": mv.model, "version": mv.version, **report.to_dict()}


def profile_view(platform: Platform, tenant: str, name: str, version: int | str | None) -> dict[str, Any]:
    """The training profile of a version, as summaries (no reference samples)."""
    loaded = platform.models.get(tenant, name, version)
    profile = version_profile(platform, tenant, loaded)
    return {"model": name, "version": loaded.version.version, **profile.public()}


def version_profile(platform: Platform, tenant: str, loaded: LoadedModel) -> Profile:
    """The version's stored profile (its signed files, checked against their digests), else one
    computed from its training dataset; kept in this process per version artifact (a window per
    minute of the prediction log reads it again and again)."""
    mv = loaded.version
    key = (tenant, mv.artifact)  # unique per version ever stored: a profile never changes under it
    with _lock:
        profile = _profiles.get(key)
        if profile is not None:
            _profiles.move_to_end(key)
    if profile is None:
        if all(f in mv.files for f in FILES):
            files = {f: platform.sealed.get(tenant, f"{mv.artifact}/{f}", mv.files[f]) for f in FILES}
            profile = Profile.from_files(files)
        else:
            profile = _on_demand(platform, tenant, loaded)
        with _lock:
            _profiles[key] = profile
            while len(_profiles) > KEPT_PROFILES:
                _profiles.popitem(last=False)
    if not profile.inputs() and not profile.outputs():
        why = "; ".join(f"{s['name']}: {s['why']}" for s in profile.skipped) or "the model declares no inputs"
        raise Conflict(f"{mv.model} version {mv.version} has nothing a drift check can compare ({why})")
    return profile


def _on_demand(platform: Platform, tenant: str, loaded: LoadedModel) -> Profile:
    mv = loaded.version
    lineage = mv.lineage
    what = f"{mv.model} version {mv.version} has no drift profile"
    if not lineage.get("dataset_id"):
        raise Conflict(f"{what}: it was not trained here, so there is no training data to profile")
    try:
        dataset = platform.store.get_dataset(tenant, str(lineage["dataset_id"]))
    except NotFound:
        raise Conflict(
            f"{what}: it was trained before profiles were kept and its training dataset "
            f"{lineage.get('dataset_name')!r} ({lineage['dataset_id']}) no longer exists; "
            "train a new version to get one"
        ) from None
    if lineage.get("dataset_sha256") and dataset.sha256 != lineage["dataset_sha256"]:
        raise Conflict(
            f"{what}: its training dataset {dataset.id} no longer holds the data it was trained on"
        )
    frame, _ = frame_for_learning(platform, dataset, list(lineage.get("exclude") or []))
    source = f"computed on demand from training dataset {dataset.name!r} ({dataset.id})"
    return profile_of(loaded.estimator, frame, source=source, seed=int(lineage.get("seed") or 0))


def _check_columns(profile: Profile, frame: pd.DataFrame) -> None:
    missing = [c for c in profile.columns() if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the window lacks {len(missing)} input column(s) the model was trained on: {', '.join(missing)}",
            errors=[{"loc": ["body", "columns", c], "msg": "column missing"} for c in missing],
        )


# ---------------------------------------------------------------------- windows
def records_frame(records: Sequence[Any]) -> pd.DataFrame:
    """A window given as JSON records (objects of column -> value), as a table."""
    bad = [i for i, r in enumerate(records) if not isinstance(r, Mapping)]
    if bad:
        raise InvalidInput(
            f"{len(bad)} record(s) are not objects of column -> value",
            errors=[{"loc": ["body", "records", i], "msg": "expected an object"} for i in bad[:50]],
        )
    return pd.DataFrame.from_records(list(records))


def dataset_frame(platform: Platform, tenant: str, dataset_id: str) -> pd.DataFrame:
    """A window given as one of the tenant's datasets."""
    return load_frame(platform, platform.store.get_dataset(tenant, dataset_id))


async def upload_frame(platform: Platform, source: Any, filename: str | None) -> pd.DataFrame:
    """A window uploaded as a file (CSV, Parquet), read and checked like a batch input; its
    plaintext lives in a scratch file (in memory only) while it is read."""
    from starlette.concurrency import run_in_threadpool

    with scratch_file(platform.scratch, f"{new_id('drift')}.in") as tmp:
        await receive_upload(source, tmp, platform.settings.max_upload_bytes)
        frame: pd.DataFrame = await run_in_threadpool(read_table, tmp, filename)
    return frame


# ---------------------------------------------------------------------- charts
def drift_plot(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    frame: pd.DataFrame,
    kind: str,
    thresholds: Thresholds | None = None,
) -> bytes:
    """PNG of a window's drift: ``distributions`` (training against window for the variables that
    moved most) or ``timeline`` (the window cut into consecutive parts, each part's distances)."""
    mv = platform.models.resolve(tenant, name, version)
    title = f"{mv.model} v{mv.version}"
    if kind == "distributions":
        report = frame_drift(platform, tenant, name, mv.version, frame, thresholds)
        return plot.distributions_png(report.movers()[:PLOT_TOP], title=f"{title}: {report.summary}")
    if kind != "timeline":
        raise InvalidInput(
            f"unknown drift chart {kind!r}; use distributions or timeline",
            errors=[{"loc": ["query", "kind"], "msg": "one of distributions, timeline"}],
        )
    parts = timeline_parts(len(frame))
    points = []
    for start, stop in parts:
        report = frame_drift(platform, tenant, name, mv.version, frame.iloc[start:stop], thresholds)
        points.append(plot.TimelinePoint(f"rows {start + 1}-{stop}", _distances(report), report.drifted))
    limit = (thresholds or Thresholds()).min_distance
    return plot.timeline_png(points, min_distance=limit, title=f"{title}: drift over the window")


def timeline_parts(rows: int) -> list[tuple[int, int]]:
    """Consecutive parts of a window for the drift-over-time chart: of :data:`WINDOW_ROWS` rows
    when the window is long enough, else cut in at most :data:`TIMELINE_POINTS` parts of at
    least :data:`MIN_WINDOW_ROWS` rows."""
    size = max(WINDOW_ROWS, -(-rows // TIMELINE_POINTS))
    if rows < 2 * size:
        size = max(MIN_WINDOW_ROWS, rows // min(TIMELINE_POINTS, max(rows // MIN_WINDOW_ROWS, 1)))
    cuts = list(range(0, rows, size))
    parts = [(a, min(a + size, rows)) for a in cuts]
    if len(parts) > 1 and parts[-1][1] - parts[-1][0] < MIN_WINDOW_ROWS:  # a short tail joins the part before
        parts[-2:] = [(parts[-2][0], rows)]
    return parts


def _distances(report: DriftReport) -> dict[str, float]:
    return {f.name: f.distance for f in ranked(report.findings())}

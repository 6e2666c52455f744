"""Drift of what a deployed model was sent: windows of its prediction log against its training profile.

The logged inputs of a window become a table and go through :func:`shopfloor.services.drift.frame_drift`
like any other window. :func:`timeline` does that for consecutive windows of the log (of time or of
a number of predictions, as live performance cuts them); :func:`window_scores` for one window of
time, which the ``drift_score`` alert signal reads.

A window compares at most :data:`DRIFT_ROWS` of its logged predictions, spread evenly over it, and
needs at least :data:`~shopfloor.monitoring.thresholds.MIN_WINDOW_ROWS`. The result of a set of
rows is kept in the process (:data:`KEPT`), keyed by the version and the rows' identity (the first
and last logged prediction and how many), so a window checked again (the next evaluation of an
alert rule, the same timeline asked twice) is not computed again, while a window whose rows
changed (a late batch, a retention sweep) is. The same rows give the same answer on every host.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import Conflict
from shopfloor.monitoring import plot
from shopfloor.monitoring.report import DriftReport, ranked
from shopfloor.monitoring.thresholds import MIN_WINDOW_ROWS, Thresholds
from shopfloor.registry.entities import ModelVersion
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.services.drift import frame_drift, version_profile
from shopfloor.services.log_windows import MAX_READ, Bounds, log_windows, resolve_windows
from shopfloor.serving.log_entries import DIGESTED
from shopfloor.serving.log_reading import entries_of, inputs_frame, read_pages

#: Logged predictions compared per window at most (spread evenly over the window).
DRIFT_ROWS = 5_000
#: Windows one timeline checks at most (each is a drift check).
TIMELINE_WINDOWS = 50
#: Window results kept per process.
KEPT = 256

_kept: OrderedDict[tuple[Any, ...], WindowDrift] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class WindowDrift:
    """The drift of one window's logged inputs, as compact as a timeline and a signal need it."""

    rows: int
    drifted: bool
    summary: str
    #: every finding: name, role, test, distance, p_adjusted, drifted; inputs also their column
    findings: tuple[Mapping[str, Any], ...]

    def inputs(self) -> list[Mapping[str, Any]]:
        return [f for f in self.findings if f["role"] == "input"]

    def input_score(self, name: str | None) -> float | None:
        """The largest distance over the inputs, or over those of input ``name`` (a finding's name,
        or a column: a text column has several findings); None when nothing was measured."""
        found = [
            f["distance"]
            for f in self.inputs()
            if f["distance"] is not None and (name is None or name in (f["name"], f.get("column")))
        ]
        return max(found) if found else None


def spread(refs: Sequence[LoggedPrediction], most: int = DRIFT_ROWS) -> list[LoggedPrediction]:
    """At most ``most`` of ``refs``, evenly spaced, in their order (all of them when fewer)."""
    if len(refs) <= most:
        return list(refs)
    step = len(refs) / most
    return [refs[int(k * step)] for k in range(most)]


def check_loggable(mv: ModelVersion) -> None:
    """409 for a version whose inputs the log keeps only as digests (images, recordings)."""
    digested = [f["name"] for f in mv.input_schema if f.get("type") in DIGESTED]
    if digested:
        raise Conflict(
            f"{mv.model} version {mv.version} reads images or recordings ({', '.join(digested[:3])}); "
            "the prediction log keeps those as their size and digest only, so their drift cannot be "
            "computed from it: check windows of the files with POST /v1/models/{name}/drift"
        )


def _key(
    tenant: str, mv: ModelVersion, thresholds: Thresholds, count: int, first: LoggedPrediction,
    last: LoggedPrediction,
) -> tuple[Any, ...]:
    """A window's rows by their identity: the first and last logged prediction, and how many."""
    return (tenant, mv.artifact, thresholds, count, first.key, last.key)


def _kept_result(key: tuple[Any, ...]) -> WindowDrift | None:
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
        return found


def window_drift(
    platform: Platform,
    tenant: str,
    mv: ModelVersion,
    refs: Sequence[LoggedPrediction],
    thresholds: Thresholds | None = None,
    key: tuple[Any, ...] | None = None,
) -> WindowDrift | None:
    """The drift of the logged inputs of ``refs`` (one window of version ``mv``, in log order), or
    None when fewer than MIN_WINDOW_ROWS of them can be compared. Kept per process under ``key``
    (default: the rows' identity)."""
    thresholds = thresholds or Thresholds()
    if len(refs) < MIN_WINDOW_ROWS:
        return None
    check_loggable(mv)
    key = key or _key(tenant, mv, thresholds, len(refs), refs[0], refs[-1])
    found = _kept_result(key)
    if found is not None:
        return found
    picked = spread(refs)
    frame = inputs_frame(picked, entries_of(platform, tenant, picked))
    if len(frame) < MIN_WINDOW_ROWS:
        return None
    report = frame_drift(platform, tenant, mv.model, mv.version, frame, thresholds)
    loaded = platform.models.get(tenant, mv.model, mv.version)
    columns = {f.name: f.column for f in version_profile(platform, tenant, loaded).inputs()}
    found = _compact(report, columns)
    with _lock:
        _kept[key] = found
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return found


def _compact(report: DriftReport, columns: Mapping[str, str]) -> WindowDrift:
    findings = []
    for f in ranked(report.findings()):
        view = f.to_dict()
        kept = {k: view[k] for k in ("name", "role", "test", "distance", "p_adjusted", "drifted", "sentence")}
        if f.role == "input":
            kept["column"] = columns.get(f.name, f.name)
        findings.append(kept)
    return WindowDrift(report.rows, report.drifted, report.summary, tuple(findings))


def window_scores(
    platform: Platform,
    tenant: str,
    name: str,
    version: int,
    since: datetime,
    until: datetime,
    min_rows: int = MIN_WINDOW_ROWS,
) -> WindowDrift | None:
    """The drift of the version's predictions logged in ``[since, until)`` (the newest MAX_READ of
    them at most); None with fewer than ``min_rows``. A window whose rows were checked before is
    answered from the process's results after three small queries, without reading its index."""
    mv = platform.models.resolve(tenant, name, version)
    store = platform.store

    def page(after: tuple[datetime, str, int] | None, n: int, newest: bool = False) -> list[LoggedPrediction]:
        return store.list_logged(
            tenant, name, version=mv.version, since=since, until=until, after=after, newest_first=newest,
            limit=n,
        )

    count = store.count_logged(tenant, name, mv.version, since, until).predictions
    if count < max(min_rows, MIN_WINDOW_ROWS):
        return None
    check_loggable(mv)
    thresholds = Thresholds()
    key = _key(tenant, mv, thresholds, count, page(None, 1)[0], page(None, 1, newest=True)[0])
    found = _kept_result(key)
    if found is not None:
        return found
    refs = read_pages(lambda after, n: page(after, n, newest=True), min(count, MAX_READ))[::-1]
    return window_drift(platform, tenant, mv, refs, thresholds, key=key)


def timeline(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    window: str,
    windows: int = 20,
    until: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Drift per window of the version's logged predictions, oldest window first: each window's
    time span, predictions logged, rows compared, whether it drifted, its summary and findings."""
    span, mv = resolve_windows(platform, tenant, name, version, window, windows, TIMELINE_WINDOWS)
    check_loggable(mv)
    thresholds = thresholds or Thresholds()
    groups, bounds = log_windows(platform, tenant, name, mv.version, span, windows, until)
    out = [_window_view(platform, tenant, mv, g, b, thresholds) for g, b in zip(groups, bounds, strict=True)]
    return {
        "model": name,
        "version": mv.version,
        "window": span.view(),
        "thresholds": thresholds.as_dict(),
        "windows": out,
    }


def _window_view(
    platform: Platform,
    tenant: str,
    mv: ModelVersion,
    group: Sequence[LoggedPrediction],
    bounds: Bounds,
    thresholds: Thresholds,
) -> dict[str, Any]:
    found = window_drift(platform, tenant, mv, group, thresholds)
    view: dict[str, Any] = {"start": bounds[0], "end": bounds[1], "predictions": len(group)}
    if found is None:
        return {
            **view,
            "checked": False,
            "rows": 0,
            "drifted": None,
            "score": None,
            "summary": f"not checked: {len(group)} logged prediction(s); a check needs {MIN_WINDOW_ROWS}",
            "findings": [],
        }
    return {
        **view,
        "checked": True,
        "rows": found.rows,
        "drifted": found.drifted,
        "score": found.input_score(None),
        "summary": found.summary,
        "findings": [dict(f) for f in found.findings],
    }


def timeline_plot(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    window: str,
    windows: int = 20,
    until: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> bytes:
    """PNG of :func:`timeline`: each variable's distance per window (windows not checked left out)."""
    thresholds = thresholds or Thresholds()
    found = timeline(platform, tenant, name, version, window, windows, until, thresholds)
    points = [
        plot.TimelinePoint(_label(w), _distances(w["findings"]), bool(w["drifted"]))
        for w in found["windows"]
        if w["checked"]
    ]
    if not points:
        raise Conflict(
            f"no window of {name} version {found['version']} holds the {MIN_WINDOW_ROWS} logged predictions "
            "a drift check needs: log more (PUT /v1/models/{name}/prediction-log) or widen the window"
        )
    title = f"{name} v{found['version']}: drift of the logged inputs per window of {found['window']['text']}"
    return plot.timeline_png(points, min_distance=thresholds.min_distance, title=title)


def _distances(findings: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    return {f["name"]: f["distance"] for f in findings if f["distance"] is not None}


def _label(w: Mapping[str, Any]) -> str:
    end = w["end"]
    return end.strftime("%m-%d %H:%M") if isinstance(end, datetime) else str(end)

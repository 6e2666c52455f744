"""Live performance of a model version: its logged predictions in windows, scored against the outcomes
fed back (realised), estimated without outcomes where the version is a calibrated classifier (CBPE),
beside the figures of its training report (baseline).

Windows are of time (``window=1d``: the last ``windows`` days up to ``until``) or of a number of
logged predictions (``window=5000``: the newest ``windows`` x 5000, the oldest window possibly
short). At most :data:`MAX_READ` predictions are read per call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.evaluation.live import LOWER_IS_BETTER
from shopfloor.explain.performance_plot import performance_png
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.services import outcomes as O
from shopfloor.services.feedback import outcomes_spec
from shopfloor.services.prediction_log import entries_of, outcomes_of
from shopfloor.tasks import catalog
from shopfloor.tasks.base import Outcomes

MAX_READ = 500_000
MAX_WINDOWS = 200
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME = re.compile(r"([1-9][0-9]{0,5})([smhdw])")
_COUNT = re.compile(r"[1-9][0-9]{0,6}")
PAGE = 20_000


@dataclass(frozen=True)
class Window:
    """``count`` predictions per window, or ``seconds`` of time per window."""

    text: str
    count: int | None = None
    seconds: int | None = None


def parse_window(text: str) -> Window:
    """``1h``, ``7d`` (time: s, m, h, d, w, at least a minute) or ``5000`` (logged predictions)."""
    found = _TIME.fullmatch(text or "")
    if found:
        seconds = int(found.group(1)) * _UNITS[found.group(2)]
        if seconds >= 60:
            return Window(text, seconds=seconds)
    elif _COUNT.fullmatch(text or "") and int(text) >= 10:
        return Window(text, count=int(text))
    raise InvalidInput(
        f"window {text!r}: give a time span (e.g. 1h, 1d, 7d; at least 1m) or a number of logged "
        "predictions per window (at least 10)",
        errors=[{"loc": ["query", "window"], "msg": "e.g. 1d or 5000"}],
    )


def _check_windows(windows: int) -> None:
    if not 1 <= windows <= MAX_WINDOWS:
        raise InvalidInput(
            f"windows: 1 to {MAX_WINDOWS}, not {windows}",
            errors=[{"loc": ["query", "windows"], "msg": f"1 to {MAX_WINDOWS}"}],
        )


def performance(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    window: str,
    windows: int = 20,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The version's live metrics per window, with outcomes and estimates, and the report's baseline."""
    spec = outcomes_spec(platform, tenant, name)
    span, mv = parse_window(window), platform.models.resolve(tenant, name, version)
    _check_windows(windows)
    until = until or datetime.now(UTC)
    groups, bounds = _windows(platform, tenant, name, mv.version, span, windows, until)
    refs = [r for g in groups for r in g]
    entries, truths = entries_of(platform, tenant, refs), outcomes_of(platform, tenant, refs)
    scale = None
    if "mase" in spec.metrics and catalog.capabilities(mv.task).predict:
        scale = platform.models.get(tenant, name, mv.version).estimator.answer_scale
    calibration = mv.report.get("calibration")
    estimation, why = None, None
    out_windows = []
    for group, (start, end) in zip(groups, bounds, strict=True):
        present = [r for r in group if r.key in entries]
        answers = [entries[r.key]["answer"] for r in present]
        known = [(entries[r.key]["answer"], truths[r.key]) for r in present if r.key in truths]
        realised = O.scores(spec, [a for a, _ in known], [t for _, t in known], scale) if known else None
        estimated = None
        if answers:
            estimated, why = O.estimate(spec, answers, calibration)
            estimation = estimation or estimated is not None
        out_windows.append(
            {
                "start": start,
                "end": end,
                "predictions": len(group),
                "outcomes": len(known),
                "realised": realised,
                "estimated": estimated,
            }
        )
    return {
        "model": name,
        "version": mv.version,
        "task": mv.task,
        "kind": spec.kind,
        "window": {"text": span.text, "count": span.count, "seconds": span.seconds},
        "metrics": list(spec.metrics),
        "lower_is_better": [m for m in spec.metrics if m in LOWER_IS_BETTER],
        "baseline": baseline(spec, mv.report),
        "estimation": {
            "method": "cbpe",
            "available": bool(estimation),
            "metrics": ["precision", "recall", "f1"],
            "reason": None if estimation else why,
        },
        "windows": out_windows,
    }


def baseline(spec: Outcomes, report: Mapping[str, Any]) -> dict[str, float | None]:
    """The training report's hold-out figure of each live metric (None where it has none)."""
    figures = report.get("metrics") or {}
    out: dict[str, float | None] = {}
    for metric in spec.metrics:
        value = figures.get(spec.baseline.get(metric, metric))
        out[metric] = float(value) if isinstance(value, int | float) and math.isfinite(value) else None
    return out


def _windows(
    platform: Platform, tenant: str, name: str, version: int, span: Window, windows: int, until: datetime
) -> tuple[list[list[LoggedPrediction]], list[tuple[datetime | None, datetime | None]]]:
    """The logged predictions of each window, oldest window first, and each window's time span."""
    store = platform.store
    if span.count is not None:
        wanted = min(span.count * windows, MAX_READ)
        newest = _read(
            lambda after, n: store.list_logged(
                tenant, name, version=version, until=until, after=after, newest_first=True, limit=n
            ),
            wanted,
        )
        refs = newest[::-1]
        cuts = list(range(len(refs), 0, -span.count))[::-1]
        starts = [max(0, c - span.count) for c in cuts]
        counted = [refs[s:c] for s, c in zip(starts, cuts, strict=True)]
        return counted, [(g[0].at, g[-1].at) for g in counted]
    assert span.seconds is not None  # noqa: S101 - parse_window gives one or the other
    size = timedelta(seconds=span.seconds)
    since = until - size * windows
    refs = _read(
        lambda after, n: store.list_logged(
            tenant, name, version=version, since=since, until=until, after=after, limit=n
        ),
        MAX_READ,
    )
    groups: list[list[LoggedPrediction]] = [[] for _ in range(windows)]
    for ref in refs:
        k = min(int((ref.at - since) / size), windows - 1)
        groups[k].append(ref)
    return groups, [(since + size * k, since + size * (k + 1)) for k in range(windows)]


def _read(page: Any, wanted: int) -> list[LoggedPrediction]:
    out: list[LoggedPrediction] = []
    after = None
    while len(out) < wanted:
        n = min(PAGE, wanted - len(out))
        found: Sequence[LoggedPrediction] = page(after, n)
        out.extend(found)
        if len(found) < n:
            break
        after = (found[-1].at, found[-1].blob_id, found[-1].slot)
    return out


def plot(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    window: str,
    windows: int = 20,
    until: datetime | None = None,
) -> bytes:
    """PNG of :func:`performance`: each live metric per window, realised and estimated, with the
    training report's figure as a line."""
    found = performance(platform, tenant, name, version, window, windows, until)
    return performance_png(found)

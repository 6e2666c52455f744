"""Live performance of a model version: its logged predictions in windows, scored against the outcomes
fed back (realised), estimated without outcomes where the version is a calibrated classifier (CBPE),
beside the figures of its training report (baseline).

Windows are of time or of a number of logged predictions (:mod:`shopfloor.services.log_windows`).
At most :data:`~shopfloor.services.log_windows.MAX_READ` predictions are read per call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shopfloor.context import Platform
from shopfloor.evaluation.live import LOWER_IS_BETTER
from shopfloor.explain.performance_plot import performance_png
from shopfloor.registry.entities import ModelVersion
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.services import outcomes as O
from shopfloor.services.feedback import outcomes_spec
from shopfloor.services.log_windows import MAX_READ, MAX_WINDOWS, log_windows, resolve_windows
from shopfloor.serving.log_reading import Keyed, entries_of, outcomes_of, read_pages
from shopfloor.tasks import catalog
from shopfloor.tasks.base import Outcomes

__all__ = ["MAX_READ", "MAX_WINDOWS", "performance", "plot", "window_figures"]


class _Scorer:
    """Scores windows of one version's logged predictions: realised from the outcomes that came,
    estimated from the calibrated probabilities of the answers."""

    def __init__(self, platform: Platform, tenant: str, name: str, mv: ModelVersion, spec: Outcomes) -> None:
        self.spec = spec
        self.calibration = mv.report.get("calibration")
        self.scale = None
        if "mase" in spec.metrics and catalog.capabilities(mv.task).predict:
            self.scale = platform.models.get(tenant, name, mv.version).estimator.answer_scale
        self.estimation: bool | None = None
        self.why: str | None = None

    def window(self, group: Sequence[LoggedPrediction], entries: Keyed, truths: Keyed) -> dict[str, Any]:
        """``predictions``, ``outcomes``, ``realised`` and ``estimated`` of one window."""
        spec = self.spec
        present = [r for r in group if r.key in entries]
        answers = [entries[r.key]["answer"] for r in present]
        known = [(entries[r.key]["answer"], truths[r.key]) for r in present if r.key in truths]
        realised = O.scores(spec, [a for a, _ in known], [t for _, t in known], self.scale) if known else None
        estimated = None
        if answers:
            estimated, self.why = O.estimate(spec, answers, self.calibration)
            self.estimation = self.estimation or estimated is not None
        return {
            "predictions": len(group), "outcomes": len(known), "realised": realised, "estimated": estimated
        }


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
    span, mv = resolve_windows(platform, tenant, name, version, window, windows)
    groups, bounds = log_windows(platform, tenant, name, mv.version, span, windows, until)
    refs = [r for g in groups for r in g]
    entries, truths = entries_of(platform, tenant, refs), outcomes_of(platform, tenant, refs)
    scorer = _Scorer(platform, tenant, name, mv, spec)
    out_windows = [
        {"start": start, "end": end, **scorer.window(group, entries, truths)}
        for group, (start, end) in zip(groups, bounds, strict=True)
    ]
    return {
        "model": name,
        "version": mv.version,
        "task": mv.task,
        "kind": spec.kind,
        "window": span.view(),
        "metrics": list(spec.metrics),
        "lower_is_better": [m for m in spec.metrics if m in LOWER_IS_BETTER],
        "baseline": baseline(spec, mv.report),
        "estimation": {
            "method": "cbpe",
            "available": bool(scorer.estimation),
            "metrics": ["precision", "recall", "f1"],
            "reason": None if scorer.estimation else scorer.why,
        },
        "windows": out_windows,
    }


def window_figures(
    platform: Platform, tenant: str, name: str, version: int, since: datetime, until: datetime
) -> dict[str, Any]:
    """One window ``[since, until)`` of the version's log scored as :func:`performance` scores each
    of its windows (the newest :data:`MAX_READ` predictions at most)."""
    spec = outcomes_spec(platform, tenant, name)
    mv = platform.models.resolve(tenant, name, version)
    store = platform.store
    refs = read_pages(
        lambda after, n: store.list_logged(
            tenant, name, version=mv.version, since=since, until=until, after=after, limit=n
        ),
        MAX_READ,
    )
    entries, truths = entries_of(platform, tenant, refs), outcomes_of(platform, tenant, refs)
    return _Scorer(platform, tenant, name, mv, spec).window(refs, entries, truths)


def baseline(spec: Outcomes, report: Mapping[str, Any]) -> dict[str, float | None]:
    """The training report's hold-out figure of each live metric (None where it has none)."""
    figures = report.get("metrics") or {}
    out: dict[str, float | None] = {}
    for metric in spec.metrics:
        value = figures.get(spec.baseline.get(metric, metric))
        out[metric] = float(value) if isinstance(value, int | float) and math.isfinite(value) else None
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

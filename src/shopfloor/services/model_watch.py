"""One deployed model watched, as the console's monitoring pages show it: each page gathers here what
several services answer (the log's rate and retention, live performance, drift, the challenger,
retraining jobs and gates), and a part that does not apply to the model's family comes back as the
reason in one sentence instead of an error.

The window arguments are checked before anything is read, so a mistake in them is an error of the
request (422), never a part "not applicable"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from shopfloor.context import Platform
from shopfloor.errors import ShopfloorError
from shopfloor.monitoring.thresholds import Thresholds
from shopfloor.registry.entities import PRODUCTION, Job
from shopfloor.services import challenger, challenger_report, drift, drift_log, performance, prediction_log
from shopfloor.services.log_windows import check_windows, parse_window
from shopfloor.serving.log_reading import read_pages

T = TypeVar("T")

#: Errors that say a part does not apply to this model (no outcomes, no profile, no challenger...).
NOT_APPLICABLE = (404, 409, 422)
#: Newest logged predictions the console pages through.
RECENT = 1_000
#: Newest retraining jobs of the tenant searched for those of one model.
JOBS_SEARCHED = 500


def applicable(work: Callable[[], T]) -> tuple[T | None, str | None]:
    """``work()`` and None, or None and why it does not apply (a 404, 409 or 422 it raised)."""
    try:
        return work(), None
    except ShopfloorError as exc:
        if exc.status not in NOT_APPLICABLE:
            raise
        return None, exc.detail


def recent_predictions(
    platform: Platform, tenant: str, name: str, number: int, size: int
) -> dict[str, Any]:
    """Page ``number`` (from 1, ``size`` rows) of the model's newest :data:`RECENT` logged predictions,
    newest first, failed calls included: ``rows`` as the export gives them, ``number``, ``pages``,
    ``total`` (of those newest). 404 for an unknown model."""
    platform.store.get_model(tenant, name)
    refs = read_pages(
        lambda after, n: platform.store.list_logged(
            tenant, name, after=after, newest_first=True, limit=n, failed=None
        ),
        RECENT,
    )
    pages = max(1, -(-len(refs) // size))
    number = min(max(1, number), pages)
    shown = refs[(number - 1) * size : number * size]
    return {
        "rows": prediction_log.rows_of(platform, tenant, shown),
        "number": number,
        "pages": pages,
        "total": len(refs),
    }


def log_and_performance(
    platform: Platform, tenant: str, name: str, window: str, windows: int
) -> dict[str, Any]:
    """The sampling rate, the tenant's retention, and live performance per window of the production
    version (or why there is none)."""
    parse_window(window)
    check_windows(windows)
    found, why = applicable(
        lambda: performance.performance(platform, tenant, name, None, window, windows)
    )
    return {
        "log": prediction_log.settings_view(platform, tenant, name),
        "retention": prediction_log.retention_view(platform, tenant),
        "performance": found,
        "performance_reason": why,
        "has_data": bool(found and any(w["predictions"] for w in found["windows"])),
    }


def drift_over_time(platform: Platform, tenant: str, name: str, window: str, windows: int) -> dict[str, Any]:
    """The training profile of the production version and the drift of its logged inputs per window
    (each, or why it does not apply)."""
    platform.store.get_model(tenant, name)
    parse_window(window)
    check_windows(windows, drift_log.TIMELINE_WINDOWS)
    profile, profile_why = applicable(lambda: drift.profile_view(platform, tenant, name, None))
    timeline, timeline_why = applicable(
        lambda: drift_log.timeline(platform, tenant, name, None, window, windows, None, Thresholds())
    )
    checked = [w for w in (timeline or {}).get("windows", []) if w["checked"]]
    return {
        "profile": profile,
        "profile_reason": profile_why,
        "timeline": timeline,
        "timeline_reason": timeline_why,
        "checked": len(checked),
    }


def challenger_status(
    platform: Platform, tenant: str, name: str, window: str, windows: int
) -> dict[str, Any]:
    """The challenger setting and its comparison with the champion over ``windows`` of ``window``
    (or why there is none yet)."""
    setting = challenger.get(platform, tenant, name)
    span = challenger_report.Span(window, windows)
    challenger_report.check_span(span)
    report, why = applicable(lambda: challenger_report.report(platform, tenant, name, span))
    return {"setting": setting, "report": report, "report_reason": why}


def _retrain_row(job: Job) -> dict[str, Any]:
    result = job.result or {}
    gate = result.get("gate") or {}
    return {
        "id": job.id,
        "status": job.status,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "datasets": list(job.params.get("dataset_ids") or []),
        "champion": job.params.get("champion"),
        "promote": job.params.get("promote"),
        "version": result.get("version"),
        "passed": gate.get("passed") if gate else None,
        "summary": gate.get("summary") or job.error or job.message or "",
        "promotion": (result.get("promotion") or {}).get("message"),
    }


def retraining_status(platform: Platform, tenant: str, name: str, most: int = 20) -> dict[str, Any]:
    """The model's newest ``most`` retraining jobs (among the tenant's newest :data:`JOBS_SEARCHED`
    retraining jobs) with their gate's outcome, and every version with the gate it passed or failed (None: a
    version from a training job, with no gate)."""
    model = platform.store.get_model(tenant, name)
    jobs = platform.store.list_jobs(tenant, limit=JOBS_SEARCHED, job_type="retrain")
    mine = [j for j in jobs if j.params.get("model_name") == name][:most]
    versions = []
    for mv in reversed(platform.store.list_versions(tenant, name)):
        gate = mv.report.get("gate")
        versions.append(
            {
                "version": mv.version,
                "aliases": list(mv.aliases),
                "created_at": mv.created_at,
                "gate": None if not isinstance(gate, dict) else bool(gate.get("passed")),
                "summary": gate.get("summary") if isinstance(gate, dict) else None,
            }
        )
    return {
        "task": model.task,
        "production": model.aliases.get(PRODUCTION),
        "jobs": [_retrain_row(j) for j in mine],
        "versions": versions,
    }


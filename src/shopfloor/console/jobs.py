"""Jobs: the tenant's jobs with status and duration (filtered, a page at a time), one job's stage
and progress followed live, and cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from shopfloor.api.routes.views import job_view
from shopfloor.console.auth import JobsForm, JobsViewer, platform_of
from shopfloor.console.paging import PAGE_SIZE, Page, requested
from shopfloor.console.render import page
from shopfloor.registry.entities import Job
from shopfloor.services import audit

router = APIRouter()
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


def _seconds(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return ""
    if end is None:
        return "running"
    total = int((end - start).total_seconds())
    return f"{total // 60} min {total % 60} s" if total >= 60 else f"{total} s"


def row(job: Job) -> dict[str, Any]:
    """The job's public view and its duration in words."""
    return {**job_view(job), "duration": _seconds(job.started_at, job.finished_at)}


@router.get("/jobs", response_class=HTMLResponse)
def jobs(request: Request, viewer: JobsViewer) -> HTMLResponse:
    store = platform_of(request).store
    status = request.query_params.get("status") or None
    status = status if status in STATUSES else None
    total = store.count_jobs(viewer.tenant, status=status)
    pages = max(1, -(-total // PAGE_SIZE))
    number = requested(request, pages)
    items = store.list_jobs(viewer.tenant, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, status=status)
    shown = Page([row(j) for j in items], number, pages, total)
    return page(
        request,
        "jobs.html",
        viewer,
        title="Jobs",
        page=shown,
        jobs=shown.items,
        statuses=STATUSES,
        chosen_status=status or "",
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job(request: Request, job_id: str, viewer: JobsViewer) -> HTMLResponse:
    found = row(platform_of(request).store.get_job(viewer.tenant, job_id))
    return page(request, "job.html", viewer, title=f"Job {found['id']}", j=found)


@router.get("/jobs/{job_id}/status")
def job_status(request: Request, job_id: str, viewer: JobsViewer) -> JSONResponse:
    """What the job page's script polls: status, progress, stage and message."""
    found = row(platform_of(request).store.get_job(viewer.tenant, job_id))
    keys = ("status", "progress", "stage", "message", "error", "duration", "result")
    return JSONResponse({k: found[k] for k in keys}, headers={"Cache-Control": "no-store"})


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: str, viewer: JobsForm) -> Response:
    platform = platform_of(request)
    cancelled = platform.store.request_cancel(viewer.tenant, job_id)
    audit.record(platform, viewer.principal, "job.cancel", cancelled.id, status=cancelled.status)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)

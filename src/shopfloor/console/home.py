"""The start page: who is signed in, what the tenant holds, and the latest jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopfloor.api.routes.views import job_view
from shopfloor.console.auth import AnyViewer, platform_of
from shopfloor.console.render import page
from shopfloor.security.roles import Permission

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, viewer: AnyViewer) -> HTMLResponse:
    store = platform_of(request).store
    counts: dict[str, int] = {}
    if viewer.can(Permission.DATASETS_READ):
        counts["datasets"] = store.count_datasets(viewer.tenant)
    if viewer.can(Permission.MODELS_READ):
        counts["models"] = store.count_models(viewer.tenant)
    recent = (
        [job_view(j) for j in store.list_jobs(viewer.tenant, limit=5)]
        if viewer.can(Permission.JOBS_READ)
        else []
    )
    return page(request, "home.html", viewer, title="Home", counts=counts, recent=recent)

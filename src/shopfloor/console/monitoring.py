"""A deployed model watched: its prediction log (sampling rate, the newest logged predictions, the
tenant's retention), its live performance per window with the chart, and the drift of its logged
inputs over time beside the training profile. The challenger and retraining pages are in
:mod:`shopfloor.console.retraining`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import get_heavy
from shopfloor.api.routes.monitoring import set_log_rate
from shopfloor.console.auth import ModelsForm, ModelsViewer, PredictionsViewer, PredictViewer, platform_of
from shopfloor.console.paging import PAGE_SIZE, Page, requested
from shopfloor.console.render import page, png
from shopfloor.console.validated import validated
from shopfloor.errors import InvalidInput
from shopfloor.monitoring.thresholds import Thresholds
from shopfloor.schemas.monitoring import LogSettingsUpdate
from shopfloor.services import drift_log, model_watch, performance

router = APIRouter()


@dataclass(frozen=True)
class Span:
    """The windows a page cuts the log into, from its GET form (``window``, ``windows``)."""

    window: str
    windows: int

    def query(self) -> dict[str, str | int]:
        return {"window": self.window, "windows": self.windows}


def span_of(request: Request, window: str, windows: int) -> Span:
    """The ``window`` and ``windows`` asked for (the defaults given when absent); 422 naming the
    field for a count that is not a whole number (the services check the rest)."""
    text = (request.query_params.get("window") or window).strip()[:16]
    raw = (request.query_params.get("windows") or str(windows)).strip()
    if not raw.isdigit() or len(raw) > 4:
        raise InvalidInput(
            f"windows: a whole number of windows, not {raw[:20]!r}",
            errors=[{"loc": ["query", "windows"], "msg": "a whole number"}],
        )
    return Span(text, int(raw))


@router.get("/models/{name}/monitoring", response_class=HTMLResponse)
def monitoring(request: Request, name: str, viewer: ModelsViewer) -> HTMLResponse:
    span = span_of(request, "1d", 20)
    platform = platform_of(request)
    found = model_watch.log_and_performance(platform, viewer.tenant, name, span.window, span.windows)
    return page(
        request,
        "monitoring.html",
        viewer,
        title=f"Monitoring of {name}",
        name=name,
        tab="monitoring",
        span=span,
        most_windows=performance.MAX_WINDOWS,
        **found,
    )


@router.post("/models/{name}/monitoring/rate")
def set_rate(
    request: Request, name: str, viewer: ModelsForm, rate: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    body = validated(LogSettingsUpdate, {"rate": rate.strip()}, "sampling rate", root="form")
    set_log_rate(name, body, platform_of(request), viewer.principal)
    return RedirectResponse(f"/models/{name}/monitoring", status_code=303)


@router.get("/models/{name}/monitoring/performance.png")
def performance_plot(request: Request, name: str, viewer: ModelsViewer) -> Response:
    span = span_of(request, "1d", 20)
    image = performance.plot(platform_of(request), viewer.tenant, name, None, span.window, span.windows)
    return png(image)


@router.get("/models/{name}/predictions", response_class=HTMLResponse)
def predictions(request: Request, name: str, viewer: PredictionsViewer) -> HTMLResponse:
    found = model_watch.recent_predictions(
        platform_of(request), viewer.tenant, name, requested(request), PAGE_SIZE
    )
    shown = Page(found["rows"], found["number"], found["pages"], found["total"])
    return page(
        request,
        "predictions.html",
        viewer,
        title=f"Logged predictions of {name}",
        name=name,
        tab="predictions",
        page=shown,
        rows=shown.items,
        most=model_watch.RECENT,
    )


@router.get("/models/{name}/drift", response_class=HTMLResponse)
async def drift(request: Request, name: str, viewer: PredictViewer) -> HTMLResponse:
    span = span_of(request, "1d", 20)
    platform = platform_of(request)
    async with (await get_heavy(request)).slot(viewer.tenant, "drift checks"):
        found = await run_in_threadpool(
            model_watch.drift_over_time, platform, viewer.tenant, name, span.window, span.windows
        )
    return page(
        request,
        "drift.html",
        viewer,
        title=f"Drift of {name}",
        name=name,
        tab="drift",
        span=span,
        most_windows=drift_log.TIMELINE_WINDOWS,
        thresholds=Thresholds(),
        **found,
    )


@router.get("/models/{name}/drift/timeline.png")
async def drift_plot(request: Request, name: str, viewer: PredictViewer) -> Response:
    span = span_of(request, "1d", 20)
    platform = platform_of(request)
    async with (await get_heavy(request)).slot(viewer.tenant, "drift checks"):
        image = await run_in_threadpool(
            drift_log.timeline_plot, platform, viewer.tenant, name, None, span.window, span.windows
        )
    return png(image)

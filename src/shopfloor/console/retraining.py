"""A deployed model's challenger (mode, share, the comparison with the champion and its chart,
promotion) and its retraining (a gated retraining job on one of the tenant's datasets, the recent
retraining jobs with their gate, promotion through the gate). Every action is the API's own, with
its checks and its audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.api.routes.challenger import promote as promote_challenger
from shopfloor.api.routes.challenger import set_challenger
from shopfloor.api.routes.retrain import promote as gated_promote
from shopfloor.api.routes.retrain import retrain as start_retrain
from shopfloor.console.auth import JobsForm, ModelsForm, ModelsViewer, platform_of
from shopfloor.console.monitoring import span_of
from shopfloor.console.render import page, png
from shopfloor.console.validated import validated
from shopfloor.registry.entities import CHALLENGER_MODES
from shopfloor.schemas.challenger import ChallengerUpdate
from shopfloor.schemas.challenger import PromoteRequest as ChallengerPromote
from shopfloor.schemas.retrain import PromoteRequest, RetrainCreate
from shopfloor.services import challenger_report, model_watch
from shopfloor.services.performance import MAX_WINDOWS

router = APIRouter()
Version = Annotated[str, Form(max_length=20)]


def _blank(text: str) -> str | None:
    return text.strip() or None


@router.get("/models/{name}/challenger", response_class=HTMLResponse)
def challenger(request: Request, name: str, viewer: ModelsViewer) -> HTMLResponse:
    span = span_of(request, "1h", 24)
    platform = platform_of(request)
    found = model_watch.challenger_status(platform, viewer.tenant, name, span.window, span.windows)
    versions = [v.version for v in platform.store.list_versions(viewer.tenant, name)]
    return page(
        request,
        "challenger.html",
        viewer,
        title=f"Challenger of {name}",
        name=name,
        tab="challenger",
        span=span,
        most_windows=MAX_WINDOWS,
        modes=CHALLENGER_MODES,
        versions=versions[::-1],
        **found,
    )


@router.post("/models/{name}/challenger")
def set_mode(
    request: Request,
    name: str,
    viewer: ModelsForm,
    mode: Annotated[str, Form(max_length=16)],
    share: Annotated[str, Form(max_length=32)] = "",
    version: Version = "",
) -> Response:
    body = {"mode": mode, "share": _blank(share), "version": _blank(version)}
    checked = validated(ChallengerUpdate, body, "challenger setting", root="form")
    set_challenger(name, checked, platform_of(request), viewer.principal)
    return RedirectResponse(f"/models/{name}/challenger", status_code=303)


@router.post("/models/{name}/challenger/promote")
def promote_the_challenger(
    request: Request, name: str, viewer: ModelsForm, version: Version, champion: Version = ""
) -> Response:
    body = {"version": version, "champion": _blank(champion)}
    checked = validated(ChallengerPromote, body, "promotion", root="form")
    promote_challenger(name, checked, platform_of(request), viewer.principal)
    return RedirectResponse(f"/models/{name}/challenger", status_code=303)


@router.get("/models/{name}/challenger/report.png")
def challenger_plot(request: Request, name: str, viewer: ModelsViewer) -> Response:
    span = span_of(request, "1h", 24)
    asked = challenger_report.Span(span.window, span.windows)
    image = challenger_report.plot(platform_of(request), viewer.tenant, name, asked)
    return png(image)


@router.get("/models/{name}/retraining", response_class=HTMLResponse)
def retraining(request: Request, name: str, viewer: ModelsViewer) -> HTMLResponse:
    platform = platform_of(request)
    found = model_watch.retraining_status(platform, viewer.tenant, name)
    datasets = platform.store.list_datasets(viewer.tenant) if viewer.can("jobs:write") else []
    return page(
        request,
        "retraining.html",
        viewer,
        title=f"Retraining of {name}",
        name=name,
        tab="retraining",
        datasets=datasets,
        **found,
    )


@router.post("/models/{name}/retrain")
def retrain(
    request: Request,
    name: str,
    viewer: JobsForm,
    dataset_id: Annotated[str, Form(max_length=64)] = "",
    promote: Annotated[str, Form(max_length=20)] = "never",
) -> Response:
    body = {"dataset_id": _blank(dataset_id), "promote": promote}
    checked = validated(RetrainCreate, body, "retraining request", root="form")
    job = start_retrain(name, checked, request, platform_of(request), viewer.principal)
    return RedirectResponse(f"/jobs/{job['id']}", status_code=303)


@router.post("/models/{name}/promote")
def promote(
    request: Request,
    name: str,
    viewer: ModelsForm,
    version: Version,
    expected: Version = "",
    force: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    body = {"version": version, "expected": _blank(expected), "force": force == "yes"}
    checked = validated(PromoteRequest, body, "promotion", root="form")
    gated_promote(name, checked, platform_of(request), viewer.principal)
    return RedirectResponse(f"/models/{name}/retraining", status_code=303)

"""Models: the list with aliases, a model's versions with promote and roll back, and a version's
report (metrics, stability, candidates, warnings, lineage, every plot the API has, rules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.api.routes.models import describe, move_alias
from shopfloor.console.auth import ModelsForm, ModelsViewer, platform_of
from shopfloor.console.paging import Page
from shopfloor.console.render import page, png
from shopfloor.console.validated import validated
from shopfloor.errors import ShopfloorError
from shopfloor.schemas.models import MAX_DESCRIPTION, ModelUpdate
from shopfloor.services import models as service
from shopfloor.services import plots
from shopfloor.tasks import catalog

router = APIRouter()


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, viewer: ModelsViewer) -> HTMLResponse:
    platform = platform_of(request)
    shown = Page.of(request, platform.store.list_models(viewer.tenant))
    items = [service.model_view(platform, m, False) for m in shown.items]
    return page(request, "models.html", viewer, title="Models", page=shown, models=items)


@router.get("/models/{name}", response_class=HTMLResponse)
def model(request: Request, name: str, viewer: ModelsViewer) -> HTMLResponse:
    platform = platform_of(request)
    view = service.model_view(platform, platform.store.get_model(viewer.tenant, name), True)
    return page(request, "model.html", viewer, title=f"Model {name}", m=view, max_description=MAX_DESCRIPTION)


@router.post("/models/{name}/aliases")
def promote(
    request: Request,
    name: str,
    viewer: ModelsForm,
    version: Annotated[int, Form(ge=1)],
    alias: Annotated[str, Form(max_length=64)] = "production",
) -> Response:
    move_alias(platform_of(request), viewer.principal, name, alias.strip() or "production", version)
    return RedirectResponse(f"/models/{name}", status_code=303)


@router.post("/models/{name}/description")
def describe_model(
    request: Request,
    name: str,
    viewer: ModelsForm,
    description: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    text = validated(ModelUpdate, {"description": description}, "description", root="form").description
    describe(platform_of(request), viewer.principal, name, text)
    return RedirectResponse(f"/models/{name}", status_code=303)


def _rules(request: Request, tenant: str, name: str, version: int, task: str) -> dict[str, Any] | None:
    if not catalog.capabilities(task).rules:
        return None
    try:
        return service.rules(platform_of(request), tenant, name, version)
    except ShopfloorError:
        return None


@router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
def version(request: Request, name: str, version: int, viewer: ModelsViewer) -> HTMLResponse:
    mv = platform_of(request).store.get_version(viewer.tenant, name, version)
    view = service.version_view(mv)
    report = view["report"]
    return page(
        request,
        "version.html",
        viewer,
        title=f"{name} version {version}",
        v=view,
        kinds=plots.applicable_kinds(report),
        rules=_rules(request, viewer.tenant, name, version, mv.task),
        warnings=report.get("warnings") or [],
        flat_metrics=_flat(view["metrics"]),
    )


def _flat(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """Scalar metrics as rows; nested ones (a confusion matrix, per-class figures) are plotted."""
    return [(k, v) for k, v in metrics.items() if isinstance(v, int | float | str | bool)]


@router.get("/models/{name}/versions/{version}/plots/{kind}.png")
def plot(request: Request, name: str, version: int, kind: str, viewer: ModelsViewer) -> Response:
    image = plots.render(platform_of(request), viewer.tenant, name, version, kind)
    return png(image, max_age_s=300)

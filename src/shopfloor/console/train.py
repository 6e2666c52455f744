"""Training: choose a dataset, a task and (where the task learns one) a target; the options form is
generated from the family's option model; the job is queued by the API's own job service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.api.routes.views import dataset_view
from shopfloor.console.auth import JobsForm, TrainViewer, Viewer, platform_of
from shopfloor.console.option_form import fields, parse
from shopfloor.console.render import page
from shopfloor.console.validated import validated
from shopfloor.errors import ShopfloorError
from shopfloor.schemas.jobs import TrainJobCreate
from shopfloor.services import jobs as service
from shopfloor.tasks import catalog

router = APIRouter()


def _tasks() -> list[dict[str, Any]]:
    out = []
    for name in catalog.tasks_where(lambda c: c.trainable):
        caps = catalog.capabilities(name)
        out.append(
            {"name": name, "inputs": caps.inputs, "target": caps.target, "prediction": caps.prediction}
        )
    return out


def _form(
    request: Request,
    viewer: Viewer,
    values: dict[str, Any],
    *,
    status: int = 200,
    error: ShopfloorError | None = None,
) -> HTMLResponse:
    store = platform_of(request).store
    datasets = [dataset_view(d) for d in store.list_datasets(viewer.tenant)]
    chosen = next((d for d in datasets if d["id"] == values.get("dataset_id")), None)
    tasks = _tasks()
    task = next((t for t in tasks if t["name"] == values.get("task")), None)
    options = fields(catalog.option_model(task["name"])) if task else []
    return page(
        request,
        "train.html",
        viewer,
        status=status,
        title="Train a model",
        datasets=datasets,
        dataset=chosen,
        tasks=tasks,
        task=task,
        options=options,
        values=values,
        error=error,
    )


@router.get("/train", response_class=HTMLResponse)
def train_page(request: Request, viewer: TrainViewer) -> HTMLResponse:
    values = {k: request.query_params.get(k, "") for k in ("dataset_id", "task", "target", "model_name")}
    return _form(request, viewer, values)


def _body(form: dict[str, list[str]]) -> dict[str, Any]:
    one = {k: (v[0].strip() if v else "") for k, v in form.items()}
    body: dict[str, Any] = {
        "task": one.get("task", ""),
        "dataset_id": one.get("dataset_id", ""),
        "model_name": one.get("model_name", ""),
        "target": one.get("target") or None,
        "exclude": [c for c in form.get("exclude", []) if c],
        "options": parse(catalog.option_model(one.get("task", "")), form),
    }
    if one.get("time_budget_s"):
        body["time_budget_s"] = one["time_budget_s"]
    if one.get("seed"):
        body["seed"] = one["seed"]
    return body


@router.post("/train", response_class=HTMLResponse)
async def train(request: Request, viewer: JobsForm) -> Response:
    raw = await request.form()
    form = {k: [v for v in raw.getlist(k) if isinstance(v, str)] for k in raw}
    values: dict[str, Any] = {k: (v[0] if len(v) == 1 else v) for k, v in form.items()}
    if "choose" in form:  # the dataset or task changed: show the form for them
        return _form(request, viewer, values)
    try:
        body = validated(TrainJobCreate, _body(form), "training request").model_dump()
        job = service.create_train_job(platform_of(request), viewer.principal, body)
    except ShopfloorError as exc:
        return _form(request, viewer, values, status=exc.status, error=exc)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)

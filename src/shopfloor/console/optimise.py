"""The optimiser as a form: each input a control (with bounds) or fixed, simple constraints, the
objective; the answer with the best settings, the settings of today compared, a sensitivity curve
per control, each constraint's slack, and why no setting is feasible when none is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopfloor.api.deps import get_heavy
from shopfloor.console.auth import PredictForm, PredictViewer, Viewer, platform_of
from shopfloor.console.charts import lines
from shopfloor.console.render import page
from shopfloor.console.tryit import examples_of, resolve_version
from shopfloor.console.validated import validated
from shopfloor.errors import InvalidInput, ShopfloorError
from shopfloor.registry.entities import ModelVersion
from shopfloor.schemas.optimize import OptimizeRequest
from shopfloor.services import audit, optimizing
from shopfloor.tasks import catalog

router = APIRouter()
#: Constraint rows the form offers (each: one input, an operator, a value).
CONSTRAINT_ROWS = 3
#: Trials of a console search: answered at once (larger searches run as jobs through the API).
TRIALS = 200


def _inputs(request: Request, viewer: Viewer, mv: ModelVersion) -> list[dict[str, Any]]:
    """Each input with what the form needs: kind, the training data's range and a typical value."""
    columns: dict[str, dict[str, Any]] = {}
    dataset_id = (mv.lineage or {}).get("dataset_id")
    if dataset_id:
        try:
            stored = platform_of(request).store.get_dataset(viewer.tenant, dataset_id).columns
            columns = {c["name"]: c.get("stats") or {} for c in stored}
        except ShopfloorError:
            columns = {}
    typical = examples_of(request, viewer.tenant, mv)
    return [
        {
            **c,
            "low": columns.get(c["name"], {}).get("min"),
            "high": columns.get(c["name"], {}).get("max"),
            "typical": typical.get(c["name"], ""),
        }
        for c in mv.input_schema
    ]


def _render(
    request: Request, viewer: Viewer, mv: ModelVersion, *, status: int = 200, **more: Any
) -> HTMLResponse:
    more.setdefault("error", None)
    more.setdefault("entered", {})
    return page(
        request,
        "optimise.html",
        viewer,
        status=status,
        title=f"Optimise {mv.model} v{mv.version}",
        mv=mv,
        inputs=_inputs(request, viewer, mv),
        rows=range(CONSTRAINT_ROWS),
        **more,
    )


def _resolve(request: Request, viewer: Viewer, name: str, version: str | None) -> ModelVersion:
    mv = resolve_version(request, viewer, name, version)
    if not catalog.capabilities(mv.task).optimise:
        raise InvalidInput(f"model {name!r} is a {mv.task} model, which the optimiser does not take")
    return mv


@router.get("/models/{name}/optimise", response_class=HTMLResponse)
def optimise_page(request: Request, name: str, viewer: PredictViewer) -> HTMLResponse:
    return _render(request, viewer, _resolve(request, viewer, name, request.query_params.get("version")))


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(
            f"{where}: {text!r} is not a number", errors=[{"loc": ["form", where], "msg": "not a number"}]
        ) from None


def _body(mv: ModelVersion, form: dict[str, str]) -> dict[str, Any]:
    """The optimisation request the form describes, checked by the API's own request model."""
    controls: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for c in mv.input_schema:
        name = c["name"]
        if form.get(f"role.{name}") == "control":
            if c.get("type") == "numeric":
                controls[name] = {
                    "min": _number(form.get(f"min.{name}", ""), f"min.{name}"),
                    "max": _number(form.get(f"max.{name}", ""), f"max.{name}"),
                }
            else:
                controls[name] = {"values": c.get("categories") or [False, True]}
        else:
            text = form.get(f"fixed.{name}", "")
            fixed[name] = (
                _number(text, f"fixed.{name}")
                if c.get("type") == "numeric"
                else (text.lower() in ("true", "1", "yes") if c.get("type") == "boolean" else text)
            )
    constraints = []
    for i in range(CONSTRAINT_ROWS):
        feature, value = form.get(f"c{i}.feature", ""), form.get(f"c{i}.value", "")
        if feature and value:
            constraints.append(
                {
                    "terms": {feature: 1.0},
                    "op": form.get(f"c{i}.op", "<="),
                    "value": _number(value, f"c{i}.value"),
                }
            )
    body = {
        "controls": controls,
        "fixed": fixed,
        "constraints": constraints,
        "trials": TRIALS,
        "objective": form.get("objective") or "minimize",
    }
    if form.get("output"):
        body["output"] = form["output"]
    return validated(OptimizeRequest, body, "optimisation request").model_dump(exclude_none=True)


def _curves(answer: dict[str, Any]) -> dict[str, str]:
    out = {}
    for control, found in (answer.get("sensitivity") or {}).items():
        points = [p for p in found.get("curve") or [] if isinstance(p.get("at"), int | float)]
        if points:
            out[control] = lines(
                [p["at"] for p in points],
                {"predicted": [p["predicted"] for p in points]},
                label=f"predicted outcome as {control} moves, the others at the optimum",
            )
    return out


@router.post("/models/{name}/optimise", response_class=HTMLResponse)
async def optimise(request: Request, name: str, viewer: PredictForm) -> HTMLResponse:
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    mv = _resolve(request, viewer, name, form.get("version"))
    platform = platform_of(request)
    try:
        body = _body(mv, form)
        heavy = await get_heavy(request)
        answer = await heavy.run(
            viewer.tenant,
            "optimisations",
            optimizing.optimize,
            platform,
            viewer.tenant,
            name,
            mv.version,
            body,
        )
        audit.buffer(platform).count(viewer.principal, name, answer["version"], "optimize")
    except ShopfloorError as exc:
        return _render(request, viewer, mv, status=exc.status, error=exc, entered=form)
    return _render(request, viewer, mv, entered=form, answer=answer, curves=_curves(answer))

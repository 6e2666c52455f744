"""Try a model: one record from a form built from its input schema (example values from the
training data's profile), a part image, or an asset history as CSV; the answer with every
explanation the family declares side by side (signed bars, words, heatmaps), through the same
services, slots and audit counts as the API."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from shopfloor.api.deps import get_heavy
from shopfloor.api.routes.views import version_param
from shopfloor.console.auth import PredictForm, PredictViewer, Viewer, platform_of
from shopfloor.console.charts import interval, lines, signed_bars
from shopfloor.console.render import page
from shopfloor.errors import InvalidInput, ShopfloorError
from shopfloor.registry.entities import ModelVersion
from shopfloor.security.roles import Permission
from shopfloor.services import audit, models
from shopfloor.tasks import catalog

router = APIRouter()
#: Explanations shown per answer: the first two methods the family declares (SHAP and LIME).
SHOWN_METHODS = 2
#: Series one console forecast draws (the API answers up to forecasting.MAX_SERIES).
MAX_SERIES = 20
#: Rows of an uploaded history a try may hold (a whole asset history; batch scoring takes more).
MAX_HISTORY_ROWS = 20_000


def examples_of(request: Request, tenant: str, mv: ModelVersion) -> dict[str, Any]:
    """Example values per input from the training dataset's profile: the median of a number, the
    most frequent value of a category."""
    dataset_id = (mv.lineage or {}).get("dataset_id")
    if not dataset_id:
        return {}
    try:
        columns = platform_of(request).store.get_dataset(tenant, dataset_id).columns
    except ShopfloorError:
        return {}
    out: dict[str, Any] = {}
    for c in columns:
        stats = c.get("stats") or {}
        if stats.get("median") is not None:
            out[c["name"]] = stats["median"]
        elif stats.get("top"):
            out[c["name"]] = stats["top"][0]["value"]
    return out


def resolve_version(request: Request, viewer: Viewer, name: str, version: str | None) -> ModelVersion:
    """The version a page is about: the one asked for, else production, else the latest (a model
    nobody has promoted yet can be tried before it is)."""
    platform = platform_of(request)
    if not version:
        model = platform.store.get_model(viewer.tenant, name)
        version = None if "production" in model.aliases else str(model.latest_version)
    return platform.models.resolve(viewer.tenant, name, version_param(version))


def render_try(
    request: Request, viewer: Viewer, mv: ModelVersion, *, status: int = 200, **result: Any
) -> HTMLResponse:
    caps = catalog.capabilities(mv.task)
    result.setdefault("error", None)
    result.setdefault("max_series", MAX_SERIES)
    return page(
        request,
        "try.html",
        viewer,
        status=status,
        title=f"Try {mv.model} v{mv.version}",
        mv=mv,
        caps=caps,
        schema=mv.input_schema,
        examples=examples_of(request, viewer.tenant, mv),
        can_explain=viewer.can(Permission.EXPLAIN) and bool(caps.explain),
        can_batch=caps.batch and viewer.can(Permission.JOBS_READ),
        **result,
    )


@router.get("/models/{name}/try", response_class=HTMLResponse)
def try_page(request: Request, name: str, viewer: PredictViewer) -> HTMLResponse:
    return render_try(
        request, viewer, resolve_version(request, viewer, name, request.query_params.get("version"))
    )


def _record(schema: list[dict[str, Any]], form: Any) -> dict[str, Any]:
    """One record from the form's ``field.<input>`` values, typed by the input schema."""
    record: dict[str, Any] = {}
    for column in schema:
        name = column["name"]
        raw = form.get(f"field.{name}")
        if not isinstance(raw, str) or raw.strip() == "":
            continue
        text = raw.strip()
        if column.get("type") == "numeric":
            try:
                record[name] = float(text)
            except ValueError:
                raise InvalidInput(
                    f"{name}: {text!r} is not a number",
                    errors=[{"loc": ["form", name], "msg": "not a number"}],
                ) from None
        elif column.get("type") == "boolean":
            record[name] = text.lower() in ("true", "1", "yes")
        else:
            record[name] = text
    return record


async def _records(mv: ModelVersion, form: Any) -> tuple[list[dict[str, Any]], str]:
    """The records of a try and what they are: ``record``, ``image`` or ``history``."""
    inputs = catalog.capabilities(mv.task).inputs
    upload = form.get("file")
    if inputs == "images":
        if not isinstance(upload, UploadFile):
            raise InvalidInput("choose an image file", errors=[{"loc": ["form", "file"], "msg": "no image"}])
        return [{mv.input_schema[0]["name"]: await upload.read()}], "image"
    if inputs == "series":
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                "choose a CSV of the asset's history", errors=[{"loc": ["form", "file"], "msg": "no file"}]
            )
        frame = pd.read_csv(io.BytesIO(await upload.read()), nrows=MAX_HISTORY_ROWS + 1)
        if len(frame) > MAX_HISTORY_ROWS:
            raise InvalidInput(
                f"more than {MAX_HISTORY_ROWS:,} rows: score long histories with batch scoring",
                errors=[{"loc": ["form", "file"], "msg": "too many rows"}],
            )
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return rows, "history"
    return [_record(mv.input_schema, form)], "record"


@router.post("/models/{name}/try", response_class=HTMLResponse)
async def try_it(request: Request, name: str, viewer: PredictForm) -> HTMLResponse:
    form = await request.form()
    version = form.get("version")
    mv = resolve_version(request, viewer, name, version if isinstance(version, str) else None)
    platform = platform_of(request)
    try:
        records, kind = await _records(mv, form)
        answer = await run_in_threadpool(models.predict, platform, viewer.tenant, name, mv.version, records)
        audit.buffer(platform).count(viewer.principal, name, mv.version, "predict", len(records))
        explained = await _explain(request, viewer, mv, records) if viewer.can(Permission.EXPLAIN) else []
    except ShopfloorError as exc:
        return render_try(request, viewer, mv, status=exc.status, error=exc, entered=dict(form))
    except (ValueError, pd.errors.ParserError) as exc:
        error = InvalidInput(
            f"the file could not be read as CSV: {exc}",
            errors=[{"loc": ["form", "file"], "msg": "not a CSV table"}],
        )
        return render_try(request, viewer, mv, status=422, error=error, entered=dict(form))
    return render_try(
        request,
        viewer,
        mv,
        entered=dict(form),
        answer=answer,
        kind=kind,
        explained=explained,
        assets=_series_view(answer) if kind == "history" else [],
    )


async def _explain(
    request: Request, viewer: Viewer, mv: ModelVersion, records: list[Any]
) -> list[dict[str, Any]]:
    """The first two declared explanation methods for the first record (a history: its last point),
    each with a signed bar chart of its contributions, or its heatmap image."""
    platform, heavy = platform_of(request), await get_heavy(request)
    shown = []
    target = records if catalog.capabilities(mv.task).inputs == "series" else records[:1]
    for method in catalog.capabilities(mv.task).explain[:SHOWN_METHODS]:
        result = await heavy.run(
            viewer.tenant,
            "explanations",
            models.explain,
            platform,
            viewer.tenant,
            mv.model,
            mv.version,
            target,
            method,
        )
        audit.buffer(platform).count(viewer.principal, mv.model, mv.version, "explain", len(target))
        first = result["explanations"][-1] if result["explanations"] else {}
        contributions = first.get("contributions")
        chart = None
        if isinstance(contributions, dict) and contributions:
            numbers = {str(k): float(v) for k, v in contributions.items() if isinstance(v, int | float)}
            chart = signed_bars(numbers, label=f"{method} contributions") if numbers else None
        image = first.get("heatmap_png") or first.get("map_png")
        shown.append({"method": method, "chart": chart, "image": image, "raw": first})
    return shown


def _series_view(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Per asset of a history: the anomaly score over time (threshold as a line, events shaded,
    each event's sensor shares as bars), or the remaining life with its intervals."""
    out = []
    for result in answer.get("predictions") or []:
        if "points" in result:
            points = result["points"]
            times = [p["time"] if isinstance(p["time"], int | float) else i for i, p in enumerate(points)]
            where = {p["time"]: t for p, t in zip(points, times, strict=True)}
            events = result.get("events") or []
            marks = [(where.get(e["start"], 0), where.get(e["end"], times[-1])) for e in events]
            chart = lines(
                times,
                {
                    "anomaly score": [p["score"] for p in points],
                    "threshold": [result.get("threshold")] * len(points),
                },
                marks=marks,
                label=f"anomaly score of asset {result.get('asset')} over time, events shaded",
            )
            events = [
                {
                    **e,
                    "chart": signed_bars(e["contributions"], label="sensor shares of the event (%)")
                    if e.get("contributions")
                    else None,
                }
                for e in result.get("events") or []
            ]
            out.append({"asset": result.get("asset"), "chart": chart, "events": events, "result": result})
        elif "rul" in result:
            out.append(
                {"asset": result.get("asset"), "chart": interval(result), "events": [], "result": result}
            )
    return out

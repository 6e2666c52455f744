"""Scoring beyond one record: a whole CSV as a batch job (with its result to download), and
forecasts drawn after each series' history with their intervals."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from shopfloor.api.deps import get_heavy, require
from shopfloor.api.routes.views import version_param
from shopfloor.console.auth import JobsViewer, PredictForm, platform_of
from shopfloor.console.charts import lines
from shopfloor.console.tryit import MAX_SERIES, render_try, resolve_version
from shopfloor.errors import InvalidInput, ShopfloorError
from shopfloor.security.roles import Permission
from shopfloor.services import audit, forecasting
from shopfloor.services import jobs as job_service

router = APIRouter()


@router.post("/models/{name}/batch")
async def batch(request: Request, name: str, viewer: PredictForm) -> Response:
    require(request, viewer.principal, Permission.JOBS_READ)  # to follow the job and fetch its result
    form = await request.form()
    upload, version = form.get("file"), form.get("version")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("choose a CSV file", errors=[{"loc": ["form", "file"], "msg": "no file"}])
    heavy = await get_heavy(request)
    async with heavy.slot(viewer.tenant, "batch uploads"):
        job = await job_service.create_batch_job(
            platform_of(request),
            viewer.principal,
            name,
            version_param(version if isinstance(version, str) and version else None),
            upload,
            upload.filename,
        )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}/result")
def job_result(request: Request, job_id: str, viewer: JobsViewer) -> Response:
    content, filename = job_service.result_file(platform_of(request), viewer.tenant, job_id)
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", filename)
    disposition = f'attachment; filename="{safe}"'
    return Response(content, media_type="text/csv", headers={"Content-Disposition": disposition})


def _series(text: str) -> list[str]:
    names = [s.strip() for s in re.split(r"[,\n]", text) if s.strip()]
    if not names:
        raise InvalidInput("name at least one series", errors=[{"loc": ["form", "series"], "msg": "empty"}])
    if len(names) > MAX_SERIES:
        raise InvalidInput(
            f"{len(names)} series; the console draws at most {MAX_SERIES} at a time",
            errors=[{"loc": ["form", "series"], "msg": f"more than {MAX_SERIES}"}],
        )
    return names


def _chart(item: dict[str, Any], past: dict[str, list[Any]] | None) -> str:
    """The series' history, then its forecast with the 80 % (or first) interval as a band."""
    h_values = (past or {}).get("values", [])
    n = len(h_values)
    x_hist, x_fut = list(range(n)), list(range(n, n + len(item["forecast"])))
    band = item["intervals"].get("80") or next(iter(item["intervals"].values()), None)
    joined = h_values + [None] * len(x_fut)
    ahead = [None] * n + list(item["forecast"])
    return lines(
        x_hist + x_fut,
        {"history": joined, "forecast": ahead},
        band=(band["lower"], band["upper"]) if band else None,
        band_x=x_fut if band else None,
        label=f"history and forecast of {item['series']}",
    )


@router.post("/models/{name}/forecast", response_class=HTMLResponse)
async def forecast(request: Request, name: str, viewer: PredictForm) -> HTMLResponse:
    form = await request.form()
    text, horizon_text, version = (form.get(k) for k in ("series", "horizon", "version"))
    text = text if isinstance(text, str) else ""
    platform = platform_of(request)
    mv = resolve_version(request, viewer, name, version if isinstance(version, str) else None)
    horizon = int(horizon_text) if isinstance(horizon_text, str) and horizon_text.isdigit() else None
    try:
        names = _series(text)
        body = {"series": names, "horizon": horizon, "levels": [80, 95]}
        answer = forecasting.forecast(platform, viewer.tenant, name, mv.version, body)
        audit.buffer(platform).count(viewer.principal, name, mv.version, "forecast", len(names))
        past = forecasting.history(platform, viewer.tenant, name, mv.version, names)
    except ShopfloorError as exc:
        return render_try(
            request, viewer, mv, status=exc.status, error=exc, series_text=text, horizon=horizon
        )
    drawn = [{**f, "chart": _chart(f, past.get(str(f["series"])))} for f in answer["forecasts"]]
    return render_try(request, viewer, mv, forecasts=drawn, series_text=text, horizon=horizon or "")

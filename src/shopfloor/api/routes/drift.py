"""Drift of a model's inputs and outputs: a window of rows against the version's training profile."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import HeavyDep, ModelsReader, PlatformDep, Predictor, require
from shopfloor.api.heavy import HeavyWork
from shopfloor.api.routes.predict import Version
from shopfloor.api.routes.views import parse_json
from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.monitoring.thresholds import MIN_WINDOW_ROWS, WINDOW_ROWS, Thresholds
from shopfloor.schemas.common import Problem
from shopfloor.schemas.drift import DriftProfileResponse, DriftRequest, DriftResponse
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import audit
from shopfloor.services import drift as service

router = APIRouter(prefix="/v1/models", tags=["drift"])

Alpha = Annotated[
    float, Query(gt=0, lt=1, description="Family-wise false-alarm rate per window (Holm-adjusted)")
]
MinDistance = Annotated[
    float, Query(ge=0, lt=1, description="Smallest effect that counts as drift (share of the distribution)")
]
_DEFAULTS = Thresholds()
_NOT_A_TABLE: dict[int | str, dict[str, Any]] = {
    415: {
        "model": Problem,
        "description": "The uploaded file is not a table (CSV or Parquet)",
        "content": {"application/problem+json": {}},
    }
}
_WINDOW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The window: at least {MIN_WINDOW_ROWS} rows, about {WINDOW_ROWS} recommended.",
        "content": {
            "application/json": {"schema": DriftRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                    "description": "A CSV or Parquet file with the model's input columns",
                }
            },
        },
    }
}


async def _window(request: Request, platform: Platform, principal: Principal) -> pd.DataFrame:
    """The window a drift request carries: a file part, JSON records, or a dataset id (which also
    needs the right to read datasets)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InvalidInput(
                    "send the window as a file part named 'file' (CSV or Parquet)",
                    errors=[{"loc": ["body", "file"], "msg": "field required"}],
                )
            return await service.upload_frame(platform, upload, upload.filename)
        finally:
            await form.close()
    body = parse_json(await request.body())
    if not isinstance(body, dict) or ("records" in body) == ("dataset_id" in body):
        raise InvalidInput(
            'the body must be {"records": [...]} or {"dataset_id": "..."}, one of the two',
            errors=[{"loc": ["body"], "msg": "records or dataset_id"}],
        )
    if "dataset_id" in body:
        if not isinstance(body["dataset_id"], str):
            raise InvalidInput(
                "dataset_id must be a string", errors=[{"loc": ["body", "dataset_id"], "msg": "not a string"}]
            )
        require(request, principal, Permission.DATASETS_READ)
        return await run_in_threadpool(service.dataset_frame, platform, principal.tenant, body["dataset_id"])
    if not isinstance(body["records"], list):
        raise InvalidInput(
            "records must be a list of objects", errors=[{"loc": ["body", "records"], "msg": "not a list"}]
        )
    return service.records_frame(body["records"])


T = TypeVar("T")


async def _on_window(
    request: Request,
    platform: Platform,
    principal: Principal,
    heavy: HeavyWork,
    work: Callable[[pd.DataFrame], T],
) -> T:
    """Read the request's window and run ``work`` on it in the thread pool, in one of the tenant's
    slots for heavy requests (a check fits classifiers and may embed texts)."""
    async with heavy.slot(principal.tenant, "drift checks"):
        frame = await _window(request, platform, principal)
        return await run_in_threadpool(work, frame)


@router.post(
    "/{name}/drift",
    response_model=DriftResponse,
    summary="Compare a window of rows with the model's training profile",
    description="Per input, per model output and for the inputs together: the test, its p-value "
    "(Holm-adjusted over every test of the window), the distance moved and a sentence; drifted "
    "ones first. The window is JSON records as predict takes them, a dataset id, or a CSV/Parquet "
    "file (multipart, part `file`).",
    openapi_extra=_WINDOW_BODY,
    responses=_NOT_A_TABLE,
)
async def check(
    name: str,
    request: Request,
    platform: PlatformDep,
    principal: Predictor,
    heavy: HeavyDep,
    version: Version = None,
    alpha: Alpha = _DEFAULTS.alpha,
    min_distance: MinDistance = _DEFAULTS.min_distance,
) -> Any:
    thresholds = Thresholds(alpha, min_distance)
    work = partial(service.check, platform, principal.tenant, name, version, thresholds=thresholds)
    result = await _on_window(request, platform, principal, heavy, work)
    audit.buffer(platform).count(principal, name, result["version"], "drift", result["rows"])
    return result


@router.get(
    "/{name}/drift/profile",
    response_model=DriftProfileResponse,
    summary="The training profile drift checks compare with",
)
async def profile(name: str, platform: PlatformDep, principal: ModelsReader, version: Version = None) -> Any:
    return await run_in_threadpool(service.profile_view, platform, principal.tenant, name, version)


@router.post(
    "/{name}/drift/plot",
    response_class=Response,
    summary="A chart of a window's drift (PNG)",
    description="`kind=distributions`: training against window for the variables that moved most; "
    "`kind=timeline`: the window cut into consecutive parts, each part's distance from training.",
    openapi_extra=_WINDOW_BODY,
    responses={
        200: {"content": {"image/png": {}}, "description": "The chart as a PNG image"},
        **_NOT_A_TABLE,
    },
)
async def plot(
    name: str,
    request: Request,
    platform: PlatformDep,
    principal: Predictor,
    heavy: HeavyDep,
    kind: Annotated[str, Query(pattern="^(distributions|timeline)$")] = "distributions",
    version: Version = None,
    alpha: Alpha = _DEFAULTS.alpha,
    min_distance: MinDistance = _DEFAULTS.min_distance,
) -> Response:
    thresholds = Thresholds(alpha, min_distance)
    tenant = principal.tenant
    draw = partial(service.drift_plot, platform, tenant, name, version, kind=kind, thresholds=thresholds)
    png = await _on_window(request, platform, principal, heavy, draw)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

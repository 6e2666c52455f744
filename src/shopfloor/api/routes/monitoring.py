"""The prediction log of a model (sampling rate, export), feedback on its predictions, its live
performance (JSON and chart), and the tenant's retention of the log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from shopfloor.api.deps import Admin, ModelsReader, ModelsWriter, PlatformDep, PredictionsReader, Predictor
from shopfloor.api.routes.predict import Version
from shopfloor.schemas.common import MAX_INT
from shopfloor.schemas.monitoring import (
    FeedbackRequest,
    FeedbackResult,
    LogSettingsPublic,
    LogSettingsUpdate,
    PerformancePublic,
    RetentionPublic,
    RetentionUpdate,
)
from shopfloor.services import audit, feedback, performance
from shopfloor.services import prediction_log as service

router = APIRouter(tags=["monitoring"])

JSONL, CSV = "application/x-ndjson", "text/csv"
Window = Annotated[
    str,
    Query(
        max_length=16,
        description="A time span per window (1h, 1d, 7d: s, m, h, d or w) or a number of logged predictions "
        "per window (5000)",
    ),
]
Windows = Annotated[int, Query(ge=1, le=performance.MAX_WINDOWS, description="How many windows, newest last")]
Until = Annotated[datetime | None, Query(description="ISO 8601; the end of the newest window (default: now)")]


class PerformanceQuery:
    """What live performance asks (as JSON or as a chart): the version and how its log is cut into windows."""

    def __init__(
        self, version: Version = None, window: Window = "1d", windows: Windows = 20, until: Until = None
    ) -> None:
        self.args = (version, window, windows, until)


Performance = Annotated[PerformanceQuery, Depends()]


@router.get(
    "/v1/models/{name}/prediction-log", response_model=LogSettingsPublic, summary="The model's logging rate"
)
def get_log_settings(name: str, platform: PlatformDep, principal: ModelsReader) -> Any:
    return service.settings_view(platform, principal.tenant, name)


@router.put(
    "/v1/models/{name}/prediction-log",
    response_model=LogSettingsPublic,
    summary="Log a share of the model's predictions (0: none, 1: all); every server applies it at once",
)
def set_log_rate(name: str, body: LogSettingsUpdate, platform: PlatformDep, principal: ModelsWriter) -> Any:
    found = service.set_rate(platform, principal.tenant, name, body.rate)
    audit.record(platform, principal, "prediction_log.rate", name, model=name, rate=found["rate"])
    return found


@router.get(
    "/v1/models/{name}/predictions",
    response_class=StreamingResponse,
    summary="The model's logged predictions, oldest first, with inputs (masked), answer and outcome",
    responses={200: {"content": {JSONL: {}, CSV: {}}}},
)
def export(
    name: str,
    platform: PlatformDep,
    principal: PredictionsReader,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; predictions at or after")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; predictions before")] = None,
    request_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000,
) -> StreamingResponse:
    f = service.ExportFilter(version=version, since=since, until=until, request_id=request_id, limit=limit)
    rows = service.export_rows(platform, principal.tenant, name, f)
    audit.record(
        platform, principal, "prediction_log.export", name, model=name, format=format, version=version,
        since=since.isoformat() if since else None, until=until.isoformat() if until else None,
        request_id=request_id, limit=limit,
    )
    if format == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{name}-predictions.csv"'}
        return StreamingResponse(service.as_csv(rows), media_type=CSV, headers=headers)
    return StreamingResponse(service.as_json_lines(rows), media_type=JSONL)


@router.post(
    "/v1/models/{name}/feedback",
    response_model=FeedbackResult,
    summary="The true outcome of logged predictions, by record id or by request id (and index)",
)
def post_feedback(name: str, body: FeedbackRequest, platform: PlatformDep, principal: Predictor) -> Any:
    items = [feedback.Item(i.outcome, i.record_id, i.request_id, i.index) for i in body.items]
    found = feedback.record(platform, principal.tenant, name, items)
    audit.record(platform, principal, "prediction_log.feedback", name, model=name, accepted=found["accepted"])
    return found


@router.get(
    "/v1/models/{name}/performance",
    response_model=PerformancePublic,
    summary="Live metrics per window from the feedback, estimates without it, and the training figures",
)
def get_performance(name: str, platform: PlatformDep, principal: ModelsReader, query: Performance) -> Any:
    return performance.performance(platform, principal.tenant, name, *query.args)


@router.get(
    "/v1/models/{name}/performance/plot",
    response_class=Response,
    summary="The live metrics per window as a chart (PNG)",
    responses={200: {"content": {"image/png": {}}, "description": "The chart as a PNG image"}},
)
def get_performance_plot(
    name: str, platform: PlatformDep, principal: ModelsReader, query: Performance
) -> Response:
    png = performance.plot(platform, principal.tenant, name, *query.args)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


@router.get(
    "/v1/prediction-log/retention", response_model=RetentionPublic, summary="How long the log is kept"
)
def get_retention(platform: PlatformDep, principal: Admin) -> Any:
    return service.retention_view(platform, principal.tenant)


@router.put(
    "/v1/prediction-log/retention",
    response_model=RetentionPublic,
    summary="Keep logged predictions and their feedback this many days (null: the server default)",
)
def set_retention(body: RetentionUpdate, platform: PlatformDep, principal: Admin) -> Any:
    found = service.set_retention(platform, principal.tenant, body.days)
    audit.record(platform, principal, "prediction_log.retention", principal.tenant, days=body.days)
    return found

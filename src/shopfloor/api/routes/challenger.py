"""A model's challenger: its mode (off, shadow, canary), the comparison with the champion (JSON and
chart), and its promotion to production."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from shopfloor.api.deps import ModelsReader, ModelsWriter, PlatformDep
from shopfloor.api.routes.monitoring import Until, Windows
from shopfloor.errors import Conflict
from shopfloor.schemas.challenger import (
    ChallengerPublic,
    ChallengerReport,
    ChallengerUpdate,
    PromoteRequest,
    PromoteResult,
)
from shopfloor.schemas.common import MAX_INT
from shopfloor.services import audit
from shopfloor.services import challenger as service
from shopfloor.services import challenger_report as comparison

router = APIRouter(prefix="/v1/models", tags=["challenger"])

Window = Annotated[
    str, Query(max_length=16, description="The time span of one window: 15m, 1h, 1d (s, m, h, d, w)")
]
Side = Annotated[int | None, Query(ge=1, le=MAX_INT)]


@router.get(
    "/{name}/challenger", response_model=ChallengerPublic, summary="The model's challenger and its mode"
)
def get_challenger(name: str, platform: PlatformDep, principal: ModelsReader) -> Any:
    return service.get(platform, principal.tenant, name)


@router.put(
    "/{name}/challenger",
    response_model=ChallengerPublic,
    summary="Run the challenger off, in shadow, or as a canary answering a share of requests (every server "
    "at once)",
)
def set_challenger(name: str, body: ChallengerUpdate, platform: PlatformDep, principal: ModelsWriter) -> Any:
    found = service.set_mode(
        platform, principal.tenant, name, body.mode, body.share, body.version, by=principal.key_id
    )
    audit.record(
        platform, principal, "challenger.mode", name, model=name, mode=found["mode"], share=found["share"],
        challenger=found["challenger"], champion=found["champion"],
    )
    return found


def report_span(
    window: Window = "1h",
    windows: Windows = 24,
    until: Until = None,
    champion: Side = None,
    challenger: Side = None,
) -> comparison.Span:
    """The query of the report and its chart: the windows and the versions compared."""
    return comparison.Span(window, windows, until, champion, challenger)


ReportSpan = Annotated[comparison.Span, Depends(report_span)]


@router.get(
    "/{name}/challenger/report",
    response_model=ChallengerReport,
    summary="The challenger against the champion on the same requests: agreement, metrics on feedback, "
    "latency, and whether to promote",
)
def get_report(name: str, platform: PlatformDep, principal: ModelsReader, span: ReportSpan) -> Any:
    return comparison.report(platform, principal.tenant, name, span)


@router.get(
    "/{name}/challenger/report/plot",
    response_class=Response,
    summary="Agreement and each side's metric per window, as a chart (PNG)",
    responses={200: {"content": {"image/png": {}}, "description": "The chart as a PNG image"}},
)
def get_report_plot(name: str, platform: PlatformDep, principal: ModelsReader, span: ReportSpan) -> Response:
    png = comparison.plot(platform, principal.tenant, name, span)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


@router.post(
    "/{name}/challenger/promote",
    response_model=PromoteResult,
    summary="Move production to the challenger and turn the mode off, if the challenger is still the version "
    "given",
)
def promote(name: str, body: PromoteRequest, platform: PlatformDep, principal: ModelsWriter) -> Any:
    try:
        found = service.promote(platform, principal.tenant, name, body.version, body.champion)
    except Conflict as exc:  # a refused promotion is kept too: someone acted on a stale report
        audit.record(
            platform, principal, "challenger.promote", f"{name}@production", "refused", model=name,
            version=body.version, champion=body.champion, reason=exc.detail,
        )
        raise
    audit.record(
        platform, principal, "challenger.promote", f"{name}@production", model=name,
        version=found["production"], previous=found["previous"],
    )
    return found

"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shopfloor import __version__, metrics
from shopfloor.api.deps import MetricsReader

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness (no authentication)")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/metrics", summary="Prometheus metrics of every server process", response_class=Response)
def prometheus(_: MetricsReader) -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)

"""Health and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response

from shopfloor import __version__
from shopfloor.api.deps import MetricsReader

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness (no authentication)")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def prometheus(_: MetricsReader) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

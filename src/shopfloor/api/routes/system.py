"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shopfloor import metrics
from shopfloor.api.deps import MetricsScope, PlatformDep
from shopfloor.version import __version__

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness (no authentication)")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/metrics",
    summary="Prometheus metrics: the caller's tenant, or (operator token) every tenant and process",
    response_class=Response,
)
def prometheus(platform: PlatformDep, tenant: MetricsScope) -> Response:
    jobs = platform.store.job_counts()
    if tenant is None:
        now = metrics.Registry(jobs=jobs, tenants=tuple(platform.store.list_tenants()))
    else:
        now = metrics.Registry(jobs={k: n for k, n in jobs.items() if k[0] == tenant})
    body, content_type = metrics.exposition(tenant, now)
    return Response(body, media_type=content_type)

"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from shopfloor import metrics
from shopfloor.api.deps import MetricsScope, PlatformDep
from shopfloor.errors import STORE_RETRY_AFTER_S
from shopfloor.schemas.system import Readiness
from shopfloor.services import alerts
from shopfloor.services.readiness import readiness
from shopfloor.version import __version__

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness (no authentication)")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Readiness: registry, artifact store and schema revision (no authentication)",
    responses={503: {"model": Readiness, "description": "A check failed; `failed` names it"}},
)
async def readyz(platform: PlatformDep, response: Response) -> Readiness:
    # The probes block on the network (bounded by their timeouts): keep them off the event loop.
    report = await run_in_threadpool(readiness, platform)
    if report.failed:
        response.status_code = 503
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
    return report


@router.get(
    "/metrics",
    summary="Prometheus metrics: the caller's tenant, or (operator token) every tenant and process",
    response_class=Response,
)
def prometheus(platform: PlatformDep, tenant: MetricsScope) -> Response:
    jobs = platform.store.job_counts()
    gauges = alerts.signal_gauges(platform, tenant)
    if tenant is None:
        now = metrics.Registry(jobs=jobs, tenants=tuple(platform.store.list_tenants()), gauges=gauges)
    else:
        now = metrics.Registry(jobs={k: n for k, n in jobs.items() if k[0] == tenant}, gauges=gauges)
    body, content_type = metrics.exposition(tenant, now)
    return Response(body, media_type=content_type)

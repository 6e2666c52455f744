"""Prescriptive optimisation: the settings that minimise or maximise a tabular model's prediction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import HeavyDep, PlatformDep, Predictor
from shopfloor.api.routes.predict import Version
from shopfloor.api.routes.views import job_view
from shopfloor.errors import Forbidden
from shopfloor.schemas.jobs import JobPublic
from shopfloor.schemas.optimize import OptimizeRequest, OptimizeResponse
from shopfloor.security.roles import Permission, allowed
from shopfloor.services import audit
from shopfloor.services import optimizing as service

router = APIRouter(prefix="/v1/models", tags=["predict"])


@router.post(
    "/{name}/optimize",
    response_model=OptimizeResponse,
    responses={202: {"model": JobPublic, "description": "More than 300 trials: the search runs as a job"}},
    summary="Find the settings of controllable inputs that minimise or maximise the prediction",
    description="Every input is either a control (bounds or values) or fixed. Up to 300 trials the "
    "answer comes in the response (any role that may predict; the search stops after 20 s, and "
    "`stopped` then says how many trials ran); more trials start an `optimize` job "
    "(admin, builder) whose result is the same answer. Constraints that no setting can meet give "
    '`status: "infeasible"` with the reason and the least violating settings.',
)
async def optimize(
    name: str,
    body: OptimizeRequest,
    request: Request,
    platform: PlatformDep,
    principal: Predictor,
    heavy: HeavyDep,
    version: Version = None,
) -> Any:
    payload = body.model_dump(exclude_none=True)
    if service.runs_now(payload):
        # A search takes seconds: run in the thread pool, a few at a time per tenant, counted on
        # the event loop.
        result = await heavy.run(
            principal.tenant, "optimisations", service.optimize, platform, principal.tenant, name, version,
            payload,
        )
        audit.buffer(platform).count(principal, name, result["version"], "optimize")
        return result
    if not allowed(principal.role, Permission.JOBS_WRITE):
        audit.buffer(platform).forbidden(
            principal, path=request.url.path, method=request.method, permission=Permission.JOBS_WRITE.value
        )
        raise Forbidden(
            f"role {principal.role!r} may not start jobs (needs 'jobs:write'); ask for at most "
            f"{service.SYNC_TRIALS} trials to get the answer in the response"
        )
    job = await run_in_threadpool(service.create_optimize_job, platform, principal, name, version, payload)
    return JSONResponse(JobPublic.model_validate(job_view(job)).model_dump(mode="json"), status_code=202)

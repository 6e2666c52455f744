"""Prescriptive optimisation of a registered tabular model: answered at once for small budgets,
run as an "optimize" job above :data:`SYNC_TRIALS` (the work is in :mod:`shopfloor.optimize`)."""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.jobs.optimize_job import answer, prepare
from shopfloor.registry.entities import Job
from shopfloor.security.keys import Principal
from shopfloor.services.queueing import check_room, queue

#: Requests with at most this many trials are answered in the response; more become a job.
SYNC_TRIALS = 300
#: A synchronous search stops asking for trials after this many seconds (a slow model times 300
#: trials must not hold a thread for minutes); the answer says how many trials it ran.
SYNC_SEARCH_S = 20.0


def runs_now(request: dict[str, Any]) -> bool:
    """Whether the request is answered in the response (else it needs a job)."""
    return int(request.get("trials") or 0) <= SYNC_TRIALS


def optimize(
    platform: Platform, tenant: str, name: str, version: int | str | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Check and solve a request now, searching for at most :data:`SYNC_SEARCH_S` seconds (the API
    sends large budgets to a job, which has no time bound)."""
    loaded, problem = prepare(platform, tenant, name, version, request)
    return answer(name, loaded, problem, budget_s=SYNC_SEARCH_S)


def create_optimize_job(
    platform: Platform, principal: Principal, name: str, version: int | str | None, request: dict[str, Any]
) -> Job:
    """Check the request now (nothing is stored if it is refused) and queue an "optimize" job
    pinned to the resolved version, within the tenant's quotas and audited."""
    check_room(platform, principal.tenant)
    loaded, _ = prepare(platform, principal.tenant, name, version, request)
    params = {"model": name, "version": loaded.version.version, "request": request}
    return queue(platform, principal, "optimize", params, model=name)

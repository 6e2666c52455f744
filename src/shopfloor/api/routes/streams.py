"""Streaming anomaly scoring: the newest points of an asset against the window the server keeps."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from shopfloor.api.blocking import BlockingWork
from shopfloor.api.deps import PlatformDep, Predictor, authorize
from shopfloor.api.routes.predict import PREDICT_PARAMETERS, DirectRoute
from shopfloor.api.routes.views import canary_key, parse_records, version_param
from shopfloor.schemas.models import RecordsRequest, ScoreResponse, StreamReset
from shopfloor.security.roles import Permission
from shopfloor.services import audit
from shopfloor.services import streams as service

router = APIRouter(prefix="/v1/models", tags=["predict"])
hot = APIRouter(prefix="/v1/models", tags=["predict"], route_class=DirectRoute)


# One point per call is the usual stream, so the route reads its parameters itself (as predict does):
# FastAPI's dependency solving cost more than scoring the point. The OpenAPI description below
# documents the same contract.
_SCORE_OPENAPI: dict[str, Any] = {
    "parameters": PREDICT_PARAMETERS,  # name, version, X-Canary-Key
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": RecordsRequest.model_json_schema()}},
    },
    "security": [{"Authorizer": []}],
}


@hot.post(
    "/{name}/score",
    response_model=None,
    responses={200: {"model": ScoreResponse}},
    openapi_extra=_SCORE_OPENAPI,
    summary="Score the newest points of one or more assets (streaming anomaly detection)",
)
async def score(request: Request) -> Response:
    principal = await authorize(request, Permission.PREDICT)
    version = version_param(request.query_params.get("version")) if request.scope["query_string"] else None
    key = canary_key(request.scope)
    records = parse_records(await request.body())
    platform, name = request.app.state.platform, request.path_params["name"]
    # Inline only where nothing can wait (the state held here, a write that declines rather than
    # waits for SQLite's lock); else on the registry threads: the transaction can wait on a lock
    # (SQLite's write lock, a PostgreSQL row lock) or the network, and the event loop must keep
    # serving meanwhile. The hop to a thread and back costs more than scoring a point.
    result = service.score_now(platform, principal.tenant, name, version, records, key)
    if result is None:
        blocking: BlockingWork = request.app.state.blocking
        result = await blocking.run(service.score, platform, principal.tenant, name, version, records, key)
    audit.buffer(platform).count(principal, name, result["version"], "score", len(records))
    return Response(json.dumps(result, separators=(",", ":")), media_type="application/json")


@router.delete(
    "/{name}/score/state",
    response_model=StreamReset,
    summary="Forget the window kept for one asset (or every asset) of a streaming model",
)
def reset_state(
    name: str,
    platform: PlatformDep,
    principal: Predictor,
    asset: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    result = service.reset(platform, principal.tenant, name, asset)
    audit.record(platform, principal, "stream.reset", name, asset=asset, dropped=result["dropped"])
    return result

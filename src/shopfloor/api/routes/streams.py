"""Streaming anomaly scoring: the newest points of an asset against the window the server keeps."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import PlatformDep, Predictor
from shopfloor.api.routes.predict import Version
from shopfloor.schemas.models import RecordsRequest, ScoreResponse, StreamReset
from shopfloor.services import audit
from shopfloor.services import streams as service

router = APIRouter(prefix="/v1/models", tags=["predict"])


@router.post(
    "/{name}/score",
    response_model=ScoreResponse,
    summary="Score the newest points of one or more assets (streaming anomaly detection)",
)
async def score(
    name: str, body: RecordsRequest, platform: PlatformDep, principal: Predictor, version: Version = None
) -> Any:
    result = await run_in_threadpool(service.score, platform, principal.tenant, name, version, body.records)
    audit.buffer(platform).count(principal, name, result["version"], "score", len(body.records))
    return result


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

"""Retraining a model with a gate, and promoting a version to production with one call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from shopfloor.api.deps import JobsWriter, ModelsWriter, PlatformDep, require
from shopfloor.api.routes.views import job_view
from shopfloor.schemas.jobs import JobPublic
from shopfloor.schemas.retrain import PromotePublic, PromoteRequest, RetrainCreate
from shopfloor.security.roles import Permission
from shopfloor.services import retraining as service

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.post(
    "/{name}/retrain",
    status_code=202,
    response_model=JobPublic,
    summary="Retrain the production version's configuration on new data, gated against it",
    description="Starts a `retrain` job: the champion (production, or `version`) is trained again with "
    "the same task, target, inputs, options, metric, seed and time budget on the datasets given. The "
    "new version is registered with a `gate` in its report: it must beat the champion on the same "
    "held-out rows of the new data, on labelled live data where there is any, and by more than the "
    "champion's stability band. With `promote: if_gate_passes` production moves to it when the gate "
    "passed and production still points at the champion. Data that does not fit is refused (422, "
    "naming the column) before anything is stored.",
)
def retrain(
    name: str, body: RetrainCreate, request: Request, platform: PlatformDep, principal: JobsWriter
) -> Any:
    if body.promote == "if_gate_passes":
        require(request, principal, Permission.MODELS_WRITE)  # the job will move an alias
    return job_view(service.create_retrain_job(platform, principal, name, body.request()))


@router.post(
    "/{name}/promote",
    response_model=PromotePublic,
    summary="Point production at a version (refused for a failed retraining gate unless forced)",
)
def promote(name: str, body: PromoteRequest, platform: PlatformDep, principal: ModelsWriter) -> Any:
    return service.promote(
        platform, principal, name, body.version, expected=body.expected, force=body.force
    )

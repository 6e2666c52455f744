"""Synthetic copies of datasets: share data without giving it away."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from shopfloor.api.deps import DatasetsWriter, PlatformDep
from shopfloor.api.routes.views import job_view
from shopfloor.schemas.jobs import JobPublic
from shopfloor.schemas.synthesize import SynthesizeRequest
from shopfloor.services.synthesis import create_synthesize_job

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


@router.post(
    "/{dataset_id}/synthesize",
    status_code=202,
    response_model=JobPublic,
    summary="Start a job that writes a synthetic copy of a dataset as a new dataset",
    description="The job result holds the new `dataset_id` and the utility / fidelity / privacy report "
    "(the report is kept only in the job result).",
)
def synthesize(
    dataset_id: str,
    platform: PlatformDep,
    principal: DatasetsWriter,
    body: Annotated[SynthesizeRequest | None, Body()] = None,
) -> Any:
    request = (body or SynthesizeRequest()).model_dump()
    return job_view(create_synthesize_job(platform, principal, dataset_id, request))

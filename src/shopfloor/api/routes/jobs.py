"""Jobs: start training, follow progress, cancel, download results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from shopfloor.api.deps import JobsReader, JobsWriter, PlatformDep
from shopfloor.api.routes.views import job_view
from shopfloor.schemas.jobs import JobList, JobPublic, TrainJobCreate
from shopfloor.services import audit
from shopfloor.services import jobs as service

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post("", status_code=202, response_model=JobPublic, summary="Start a training job")
def create_job(body: TrainJobCreate, platform: PlatformDep, principal: JobsWriter) -> Any:
    return job_view(service.create_train_job(platform, principal, body.model_dump()))


@router.get("", response_model=JobList, summary="List recent jobs")
def list_jobs(platform: PlatformDep, principal: JobsReader) -> Any:
    return {"items": [job_view(j) for j in platform.store.list_jobs(principal.tenant)]}


@router.get("/{job_id}", response_model=JobPublic, summary="Status, progress and result of a job")
def get_job(job_id: str, platform: PlatformDep, principal: JobsReader) -> Any:
    return job_view(platform.store.get_job(principal.tenant, job_id))


@router.post("/{job_id}/cancel", response_model=JobPublic, summary="Cancel a queued or running job")
def cancel_job(job_id: str, platform: PlatformDep, principal: JobsWriter) -> Any:
    job = platform.store.request_cancel(principal.tenant, job_id)
    audit.record(platform, principal, "job.cancel", job.id, status=job.status)
    return job_view(job)


@router.get("/{job_id}/result", response_class=Response, summary="Download a finished job's output file")
def job_result(job_id: str, platform: PlatformDep, principal: JobsReader) -> Any:
    # Stored encrypted, so it is decrypted into memory and sent as bytes rather than a file.
    content, filename = service.result_file(platform, principal.tenant, job_id)
    return Response(
        content,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

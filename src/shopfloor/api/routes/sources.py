"""A tenant's S3-compatible sources (admin, builder): the endpoints and credentials the server uses
to read and write the tenant's own buckets for the protocol facades."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from shopfloor.api.deps import PlatformDep, SourcesAdmin
from shopfloor.schemas.sources import SourceCreate, SourceList, SourcePublic
from shopfloor.services import sources as service

router = APIRouter(prefix="/v1/sources", tags=["sources"])

SourceName = Annotated[str, Path(max_length=64, pattern=service.NAME)]


@router.post("", status_code=201, response_model=SourcePublic, summary="Register an S3-compatible source")
def add_source(body: SourceCreate, platform: PlatformDep, principal: SourcesAdmin) -> Any:
    fields = body.model_dump(exclude={"secret_access_key"})
    return service.add_source(
        platform, principal, **fields, secret=body.secret_access_key.get_secret_value()
    )


@router.get("", response_model=SourceList, summary="List the tenant's sources (never their secrets)")
def list_sources(platform: PlatformDep, principal: SourcesAdmin) -> Any:
    return {"items": service.list_sources(platform, principal.tenant)}


@router.get("/{name}", response_model=SourcePublic, summary="One source of the tenant")
def get_source(name: SourceName, platform: PlatformDep, principal: SourcesAdmin) -> Any:
    return service.get_source(platform, principal.tenant, name)


@router.delete("/{name}", status_code=204, summary="Remove a source (its buckets are no longer served)")
def remove_source(name: SourceName, platform: PlatformDep, principal: SourcesAdmin) -> Response:
    service.remove_source(platform, principal, name)
    return Response(status_code=204)

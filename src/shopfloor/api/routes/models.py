"""Models, versions and aliases."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from shopfloor.api.deps import ModelsReader, ModelsWriter, PlatformDep
from shopfloor.context import Platform
from shopfloor.registry.entities import Model, ModelVersion
from shopfloor.schemas.common import VersionPath
from shopfloor.schemas.models import (
    AliasPublic,
    AliasUpdate,
    ModelList,
    ModelPublic,
    ModelUpdate,
    VersionPublic,
)
from shopfloor.security.keys import Principal
from shopfloor.services import audit
from shopfloor.services import models as service

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList, summary="List models")
def list_models(platform: PlatformDep, principal: ModelsReader) -> Any:
    return {
        "items": [
            service.model_view(platform, m, False) for m in platform.store.list_models(principal.tenant)
        ]
    }


@router.get("/{name}", response_model=ModelPublic, summary="A model with all its versions")
def get_model(name: str, platform: PlatformDep, principal: ModelsReader) -> Any:
    return service.model_view(platform, platform.store.get_model(principal.tenant, name), True)


@router.patch("/{name}", response_model=ModelPublic, summary="Change a model's description")
def update_model(name: str, body: ModelUpdate, platform: PlatformDep, principal: ModelsWriter) -> Any:
    return service.model_view(platform, describe(platform, principal, name, body.description), False)


@router.delete("/{name}", status_code=204, summary="Delete a model with all its versions and aliases")
def delete_model(name: str, platform: PlatformDep, principal: ModelsWriter) -> Response:
    remove(platform, principal, name)
    return Response(status_code=204)


def remove(platform: Platform, principal: Principal, name: str) -> None:
    """Delete model ``name`` of the caller's tenant and audit it; every server answers 404 for it
    within a second."""
    gone = service.delete_model(platform, principal.tenant, name)
    audit.record(platform, principal, "model.delete", name, model=name, versions=len(gone))


def describe(platform: Platform, principal: Principal, name: str, description: str) -> Model:
    """Replace the description of ``name`` and audit it: the API's and the console's change."""
    model = platform.store.describe_model(principal.tenant, name, description)
    audit.record(platform, principal, "model.describe", name, model=name, characters=len(description))
    return model


@router.get(
    "/{name}/versions/{version}",
    response_model=VersionPublic,
    summary="One version: metrics, stability, candidates, params, lineage",
)
def get_version(name: str, version: VersionPath, platform: PlatformDep, principal: ModelsReader) -> Any:
    return service.version_view(platform.store.get_version(principal.tenant, name, version))


@router.put(
    "/{name}/aliases/{alias}",
    response_model=AliasPublic,
    summary="Point an alias (e.g. production) at a version",
)
def set_alias(
    name: str, alias: str, body: AliasUpdate, platform: PlatformDep, principal: ModelsWriter
) -> Any:
    mv = move_alias(platform, principal, name, alias, body.version, force=body.force)
    return {"model": name, "alias": alias, "version": mv.version}


def move_alias(
    platform: Platform, principal: Principal, name: str, alias: str, version: int, force: bool = False
) -> ModelVersion:
    """Point ``alias`` of ``name`` at ``version`` and audit it: the API's and the console's move
    (production refuses a version whose retraining gate failed unless ``force``)."""
    mv = service.set_alias(platform, principal.tenant, name, alias, version, force=force)
    audit.record(
        platform,
        principal,
        "model.alias",
        f"{name}@{alias}",
        model=name,
        alias=alias,
        version=mv.version,
        forced=force or None,
    )
    return mv

"""API keys (admin only): create, list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from shopfloor.api.deps import KeysAdmin, PlatformDep
from shopfloor.api.routes.views import key_view
from shopfloor.context import Platform
from shopfloor.schemas.keys import KeyCreate, KeyCreated, KeyList
from shopfloor.security.access_keys import issue_access_key
from shopfloor.security.keys import NewKey, Principal, issue_key
from shopfloor.services import audit

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", status_code=201, response_model=KeyCreated, summary="Create an API key (secret shown once)")
def create_key(body: KeyCreate, platform: PlatformDep, principal: KeysAdmin) -> Any:
    new = create(platform, principal, body.role, body.name)
    answer = {**key_view(new.key), "secret": new.secret}
    if body.aws:
        pair = issue_access_key(platform.store, platform.sealed.tenant_key(principal.tenant), new.key)
        audit.record(platform, principal, "key.create_aws", new.key.id, access_key_id=pair.key.id)
        answer.update(aws_access_key_id=pair.key.id, aws_secret_access_key=pair.secret)
    return answer


def create(platform: Platform, principal: Principal, role: str, name: str | None) -> NewKey:
    """A new key of ``role`` in the caller's tenant, audited: the API's and the console's."""
    new = issue_key(platform.store, platform.secret, tenant=principal.tenant, role=role, name=name)
    audit.record(platform, principal, "key.create", new.key.id, role=new.key.role, name=new.key.name)
    return new


def revoke(platform: Platform, principal: Principal, key_id: str) -> None:
    """Revoke a key of the caller's tenant; every process refuses it at once. Audited."""
    platform.store.revoke_key(principal.tenant, key_id)
    platform.generation.bump()
    audit.record(platform, principal, "key.revoke", key_id)


@router.get("", response_model=KeyList, summary="List the tenant's API keys")
def list_keys(platform: PlatformDep, principal: KeysAdmin) -> Any:
    aws = {a.api_key_id: a.id for a in platform.store.list_access_keys(principal.tenant)}
    keys = platform.store.list_keys(principal.tenant)
    return {"items": [{**key_view(k), "aws_access_key_id": aws.get(k.id)} for k in keys]}


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key; it fails at once everywhere")
def revoke_key(key_id: str, platform: PlatformDep, principal: KeysAdmin) -> Response:
    revoke(platform, principal, key_id)
    return Response(status_code=204)

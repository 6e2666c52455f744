"""The tenant's personal-data masking policy (admin only): read, replace, try on a text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import Admin, PlatformDep
from shopfloor.schemas.datasets import MaskingPolicyBody, MaskPreview, MaskPreviewRequest
from shopfloor.services import audit
from shopfloor.services import masking as service

router = APIRouter(prefix="/v1/masking", tags=["masking"])


@router.get("", response_model=MaskingPolicyBody, summary="The tenant's masking policy")
def get_policy(platform: PlatformDep, principal: Admin) -> Any:
    return service.stored(platform, principal.tenant)


@router.put(
    "", response_model=MaskingPolicyBody, summary="Replace the masking policy (applies to later uploads)"
)
def put_policy(body: MaskingPolicyBody, platform: PlatformDep, principal: Admin) -> Any:
    found = service.set_policy(platform, principal.tenant, body.model_dump())
    # The names are personal data: the audit log records how many, never which.
    audit.record(
        platform,
        principal,
        "masking.update",
        principal.tenant,
        names=len(found.names),
        patterns=len(found.patterns),
        reversible=found.reversible,
    )
    return found.to_dict()


@router.post("/preview", response_model=MaskPreview, summary="What the policy does to one text")
def preview(body: MaskPreviewRequest, platform: PlatformDep, principal: Admin) -> Any:
    return service.preview(platform, principal.tenant, body.text)

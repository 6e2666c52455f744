"""The tenant's personal-data masking policy (admin only): read, replace, try on a text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import Admin, PlatformDep
from shopfloor.context import Platform
from shopfloor.privacy import MaskingPolicy
from shopfloor.schemas.datasets import MaskingPolicyBody, MaskPreview, MaskPreviewRequest
from shopfloor.security.keys import Principal
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
    return replace_policy(platform, principal, body.model_dump()).to_dict()


def replace_policy(platform: Platform, principal: Principal, body: dict[str, Any]) -> MaskingPolicy:
    """Check and store the tenant's new policy, audited: the API's and the console's."""
    found = service.set_policy(platform, principal.tenant, body)
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
    return found


@router.post("/preview", response_model=MaskPreview, summary="What the policy does to one text")
def preview(body: MaskPreviewRequest, platform: PlatformDep, principal: Admin) -> Any:
    return service.preview(platform, principal.tenant, body.text)

"""The tenant's masking policy: replaced and tried out by an admin.

Reading the policy and masking a table's text before it is stored live in
:mod:`shopfloor.privacy.policy`, below the services, where storing a dataset uses them.
"""

from __future__ import annotations

import json
from typing import Any

from shopfloor.context import Platform
from shopfloor.privacy import MaskingPolicy, mask_text
from shopfloor.privacy.policy import policy, policy_key
from shopfloor.privacy.policy import stored as stored  # GET /v1/masking shows the policy as stored
from shopfloor.security import crypto


def set_policy(platform: Platform, tenant: str, body: dict[str, Any]) -> MaskingPolicy:
    """Check ``body`` (422 with the field's place) and store it encrypted; it applies to later uploads."""
    found = MaskingPolicy.from_dict(body)
    plain = json.dumps(found.to_dict()).encode()
    blob = crypto.encrypt(platform.sealed.tenant_key(tenant), policy_key(tenant), plain)
    platform.store.set_masking_policy(tenant, blob)
    return found


def preview(platform: Platform, tenant: str, text: str) -> dict[str, Any]:
    """What the policy does to one text: the masked text, the counts and the masked spans."""
    found = policy(platform, tenant)
    result = mask_text(text, found, platform.sealed.tenant_key(tenant) if found.reversible else None)
    return {
        "text": result.text,
        "counts": dict(result.counts),
        "spans": [{"start": s, "end": e, "kind": k} for s, e, k in result.spans],
    }


def summary(columns: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What a dataset's profile says was masked at upload: totals and per column, or None."""
    per_column = {c["name"]: c["masking"] for c in columns if c.get("masking")}
    if not per_column:
        return None
    totals: dict[str, int] = {}
    for counts in per_column.values():
        for kind, n in counts.items():
            totals[kind] = totals.get(kind, 0) + int(n)
    return {"totals": totals, "columns": per_column}

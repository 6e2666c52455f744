"""The tenant's masking policy as stored, and masking a table's text before it is stored.

The policy (listed person names, extra patterns, whether pseudonyms are reversible) is
personal data itself, so the registry holds it encrypted with the tenant's key. Every text
cell of an uploaded table is masked before the table is profiled or stored: neither the stored
file nor the profile's top values ever hold an e-mail address, a phone number or a listed name.
With reversible pseudonyms the token -> original mapping is stored beside the dataset, sealed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from shopfloor.errors import Conflict, InvalidInput
from shopfloor.privacy.masking import MaskingPolicy, mask_column
from shopfloor.registry.store import MaskingStore
from shopfloor.security import crypto
from shopfloor.storage.sealed import SealedArtifacts


class PolicyPlatform(Protocol):
    """What reading the policy needs of the process's :class:`~shopfloor.context.Platform`
    (which sits above this module): the registry that holds the policy, the tenants' keys."""

    @property
    def store(self) -> MaskingStore: ...

    @property
    def sealed(self) -> SealedArtifacts: ...


MAPPING_FILE = "masking.json"


def policy_key(tenant: str) -> str:
    """Where the policy is kept, also what its encryption is bound to."""
    return f"{tenant}/masking/policy"


def stored(platform: PolicyPlatform, tenant: str) -> dict[str, Any]:
    """The tenant's policy as stored (its JSON form), not checked: what ``GET /v1/masking`` shows,
    so an admin can see, and replace, a policy that today's checks refuse."""
    blob = platform.store.get_masking_policy(tenant)
    if blob is None:
        return MaskingPolicy().to_dict()
    plain = crypto.decrypt(platform.sealed.tenant_key(tenant), policy_key(tenant), blob)
    found: dict[str, Any] = json.loads(plain)
    return found


def policy(platform: PolicyPlatform, tenant: str) -> MaskingPolicy:
    """The tenant's policy; with none set, the built-in detectors only (e-mail, phone, IBAN).

    A policy stored before a check was added (a pattern with lookbehind, which RE2 cannot run)
    raises :class:`Conflict`: nothing is masked, or stored, with a policy that does not hold.
    """
    data = stored(platform, tenant)
    try:
        return MaskingPolicy.from_dict(data)
    except InvalidInput as exc:
        raise Conflict(
            f"the tenant's masking policy no longer passes its checks ({exc.detail}); "
            "an admin must replace it with PUT /v1/masking before text can be masked",
            errors=exc.errors,
        ) from None


@dataclass
class Masked:
    """A table after masking: per column the counts, and (reversible only) token -> original."""

    frame: pd.DataFrame
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)

    def annotate(self, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The column profiles with each masked column's counts under ``"masking"``."""
        return [{**c, "masking": self.counts[c["name"]]} if c["name"] in self.counts else c for c in columns]

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for counts in self.counts.values():
            for kind, n in counts.items():
                out[kind] = out.get(kind, 0) + n
        return out


def mask_frame(platform: PolicyPlatform, tenant: str, frame: pd.DataFrame) -> Masked:
    """Mask every text cell of ``frame`` under the tenant's policy (numbers are left as they are)."""
    found = policy(platform, tenant)
    key = platform.sealed.tenant_key(tenant) if found.reversible else None
    out = Masked(frame)
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object and not pd.api.types.is_string_dtype(column):
            continue
        cells = column.tolist()
        texts = [v if isinstance(v, str) else None for v in cells]
        if not any(texts):
            continue
        masked = mask_column(texts, found, key)
        if not masked.counts:
            continue
        if out.frame is frame:
            out.frame = frame.copy()
        out.frame[name] = [m if isinstance(v, str) else v for v, m in zip(cells, masked.values, strict=True)]
        out.counts[str(name)] = dict(masked.counts)
        out.mapping.update(masked.mapping or {})
    return out

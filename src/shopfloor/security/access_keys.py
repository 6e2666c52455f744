"""AWS-style access keys for the AWS facades: an access key id and a secret per API key.

AWS SDKs sign each request with Signature Version 4 (:mod:`shopfloor.security.sigv4`): an HMAC
keyed by the secret. To check one the server recomputes that HMAC, so it needs the secret itself:
it is stored sealed (AES-256-GCM under the tenant's data key, bound to the key's id and tenant so a
sealed value copied onto another row does not open), never in clear, and shown to its owner once.

An access key acts as the API key it was issued for (its tenant, its role); revoking that API key
revokes the access key at once (the registry lookup joins the API key).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from shopfloor.errors import ArtifactCorrupted
from shopfloor.registry.entities import AccessKey, ApiKey
from shopfloor.registry.store import AccessKeyStore
from shopfloor.security import crypto

#: Access key ids start with this (AWS's start with ``AKIA``), then 16 upper-case letters and digits.
ID_PREFIX = "SFAK"
_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class NewAccessKey:
    key: AccessKey
    secret: str


def _sealed_path(tenant: str, access_key_id: str) -> str:
    return f"{tenant}/aws-access-keys/{access_key_id}"


def issue_access_key(store: AccessKeyStore, data_key: bytes, api_key: ApiKey) -> NewAccessKey:
    """A new access key for ``api_key`` (which must be active), its secret sealed with ``data_key``
    (the tenant's). The secret is returned here and nowhere else."""
    ident = ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)  # 40 characters, as AWS secrets are
    sealed = crypto.encrypt(data_key, _sealed_path(api_key.tenant, ident), secret.encode())
    stored = store.add_access_key(
        AccessKey(
            id=ident,
            tenant=api_key.tenant,
            api_key_id=api_key.id,
            sealed_secret=sealed,
            created_at=datetime.now(UTC),
        )
    )
    return NewAccessKey(key=stored, secret=secret)


def open_secret(data_key: bytes, key: AccessKey) -> str:
    """The secret of ``key``. Raises :class:`~shopfloor.errors.ArtifactCorrupted` if the sealed
    value was altered or moved from another row."""
    try:
        return crypto.decrypt(data_key, _sealed_path(key.tenant, key.id), key.sealed_secret).decode()
    except ArtifactCorrupted:
        raise ArtifactCorrupted(
            f"the sealed secret of access key {key.id} failed authentication; issue a new key"
        ) from None

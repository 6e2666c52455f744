"""Who signed a Lookout request: SigV4 checked against the access keys Shopfloor issued.

The access key's secret is opened (it is sealed with its tenant's key) only to recompute the
signature. A request signed with a known access key that fails is audited as a bad key of the API
key behind it, as a wrong bearer key is; the secret and the signature are never logged.
"""

from __future__ import annotations

from shopfloor.context import Platform
from shopfloor.errors import NotAuthenticated
from shopfloor.registry.entities import AccessKey
from shopfloor.security import sigv4
from shopfloor.security.access_keys import open_secret
from shopfloor.security.keys import Principal
from shopfloor.services.audit import buffer
from shopfloor.services.lookout.operations import SERVICE


def authenticate(platform: Platform, request: sigv4.SignedRequest, path: str) -> Principal:
    """The principal of the API key whose access key signed ``request``. Raises a
    :class:`~shopfloor.security.sigv4.SignatureError` (401) saying what is wrong."""
    found: dict[str, AccessKey] = {}

    def secret_of(access_key_id: str) -> str | None:
        key = platform.store.get_access_key(access_key_id)
        if key is None or not key.active:
            return None
        found["key"] = key
        return open_secret(platform.sealed.tenant_key(key.tenant), key)

    try:
        sigv4.verify(request, SERVICE, secret_of)
    except NotAuthenticated as exc:
        key = found.get("key")
        if key is not None:
            buffer(platform).bad_key(key.api_key_id, path=path, method=request.method, reason=exc.detail)
        raise
    key = found["key"]
    api_key = platform.store.get_key(key.api_key_id)
    if api_key is None or not api_key.active:  # revoked between the two reads
        raise sigv4.UnknownAccessKey("The security token included in the request is invalid.")
    return Principal(key_id=api_key.id, tenant=api_key.tenant, role=api_key.role)

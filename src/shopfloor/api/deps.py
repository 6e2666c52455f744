"""Dependencies as ``Annotated`` aliases: the platform, the calling principal, role checks.

They are ``async`` on purpose: a plain ``def`` dependency costs a thread-pool round trip
per request, which on the predict path costs more than the model itself.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from shopfloor.api.heavy import HeavyWork
from shopfloor.api.middleware import TENANT
from shopfloor.context import Platform
from shopfloor.errors import Forbidden, NotAuthenticated
from shopfloor.security.keys import PREFIX, Principal
from shopfloor.security.limits import limiter
from shopfloor.security.roles import Permission, allowed
from shopfloor.services.audit import buffer
from shopfloor.telemetry.logcontext import set_tenant


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_heavy(request: Request) -> HeavyWork:
    heavy: HeavyWork = request.app.state.heavy
    return heavy


#: The per-tenant slots for CPU-heavy requests (:mod:`shopfloor.api.heavy`).
HeavyDep = Annotated[HeavyWork, Depends(get_heavy)]


class Authorizer(HTTPBearer):
    """Checks the bearer API key and that its role has one permission; yields the principal.

    A subclass of ``HTTPBearer`` so the OpenAPI schema declares the bearer scheme,
    with the whole check in one dependency.
    """

    def __init__(self, permission: Permission | None) -> None:
        super().__init__(auto_error=False, description="An API key: `Authorization: Bearer sfk_…`")
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await authorize(request, self.permission)


async def authorize(request: Request, permission: Permission | None) -> Principal:
    """The caller of ``request`` if its API key is valid, within its rate limits, and its role
    has ``permission`` (any role when None). 401, 429 or 403 otherwise; a failed well-formed key
    and a 403 are audited.
    """
    header = request.headers.get("authorization")
    if not header:
        raise NotAuthenticated("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <API key>'")
    return await admit_key(request, token.strip(), permission)


async def admit_key(request: Request, token: str, permission: Permission | None) -> Principal:
    """The principal of API key ``token`` if it is valid, within its rate limits, and its role has
    ``permission`` (any role when None): the checks of :func:`authorize`, for the API's bearer
    header and the console's session cookie alike."""
    platform: Platform = request.app.state.platform
    try:
        principal: Principal = platform.keys.principal(token)
    except NotAuthenticated as exc:
        _audit_bad_key(platform, request, token, exc.detail)
        raise
    await admit_principal(request, principal, permission)
    return principal


async def admit_principal(request: Request, principal: Principal, permission: Permission | None) -> None:
    """The checks of :func:`admit_key` after the key itself: rate limits, then ``permission``. For
    callers proven another way (an AWS Signature V4 made with the key's access key)."""
    platform: Platform = request.app.state.platform
    request.scope[TENANT] = principal.tenant  # the request metrics are labelled with it
    set_tenant(principal.tenant)  # and the request's log lines and span
    # Rate before role: refused requests count too, so probing for rights is limited as well.
    await limiter(platform).admit(principal)
    if permission is not None:
        require(request, principal, permission)


def require(request: Request, principal: Principal, permission: Permission) -> None:
    """403, with the refusal in the audit log, unless ``principal``'s role has ``permission``."""
    if not allowed(principal.role, permission):
        platform: Platform = request.app.state.platform
        buffer(platform).forbidden(
            principal, path=request.url.path, method=request.method, permission=permission.value
        )
        raise Forbidden(f"role {principal.role!r} may not do this (needs {permission.value!r})")


def _audit_bad_key(platform: Platform, request: Request, token: str, reason: str) -> None:
    # Only keys of the right shape: their id names a key (and so a tenant) worth telling about.
    # The secret part never leaves this function.
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == PREFIX and parts[1] and parts[2]:
        buffer(platform).bad_key(
            f"key_{parts[1]}", path=request.url.path, method=request.method, reason=reason
        )


def _caller(permission: Permission) -> Authorizer:
    return Authorizer(permission)


# The caller, checked for one permission: route parameters are typed with these.
DatasetsReader = Annotated[Principal, Depends(_caller(Permission.DATASETS_READ))]
DatasetsWriter = Annotated[Principal, Depends(_caller(Permission.DATASETS_WRITE))]
JobsReader = Annotated[Principal, Depends(_caller(Permission.JOBS_READ))]
JobsWriter = Annotated[Principal, Depends(_caller(Permission.JOBS_WRITE))]
ModelsReader = Annotated[Principal, Depends(_caller(Permission.MODELS_READ))]
ModelsWriter = Annotated[Principal, Depends(_caller(Permission.MODELS_WRITE))]
Predictor = Annotated[Principal, Depends(_caller(Permission.PREDICT))]
Explainer = Annotated[Principal, Depends(_caller(Permission.EXPLAIN))]
ModelsExporter = Annotated[Principal, Depends(_caller(Permission.MODELS_EXPORT))]
PredictionsReader = Annotated[Principal, Depends(_caller(Permission.PREDICTIONS_READ))]
KeysAdmin = Annotated[Principal, Depends(_caller(Permission.KEYS))]
AlertsReader = Annotated[Principal, Depends(_caller(Permission.ALERTS_READ))]
AlertsWriter = Annotated[Principal, Depends(_caller(Permission.ALERTS_WRITE))]
SourcesAdmin = Annotated[Principal, Depends(_caller(Permission.SOURCES))]
# Audit log and quotas: admins only. The keys permission is the admin-only one in roles.py.
Admin = Annotated[Principal, Depends(_caller(Permission.KEYS))]


class MetricsScraper(HTTPBearer):
    """Who may scrape ``/metrics``, and whose series: the operator's ``SHOPFLOOR_METRICS_TOKEN``
    yields ``None`` (every tenant, process metrics); a key whose role has the metrics permission
    (admin, metrics) yields its tenant. 401 without either, 403 for other roles."""

    def __init__(self) -> None:
        super().__init__(
            auto_error=False,
            description="An API key with the metrics permission, or the operator's metrics token",
        )

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        platform: Platform = request.app.state.platform
        operator = platform.settings.metrics_token
        if operator is not None:
            scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
            given = token.strip().encode()
            if scheme.lower() == "bearer" and hmac.compare_digest(
                operator.get_secret_value().encode(), given
            ):
                return None
        return (await authorize(request, Permission.METRICS)).tenant


# The tenant whose metrics the caller may read, or None for the operator (every tenant).
MetricsScope = Annotated[str | None, Depends(MetricsScraper())]

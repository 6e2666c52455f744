"""Dependencies as ``Annotated`` aliases: the platform, the calling principal, role checks.

They are ``async`` on purpose: a plain ``def`` dependency costs a thread-pool round trip
per request, which on the predict path costs more than the model itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from shopfloor.errors import Forbidden, NotAuthenticated
from shopfloor.platform import Platform
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission, allowed


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


class Authorizer(HTTPBearer):
    """Checks the bearer API key and that its role has one permission; yields the principal.

    A subclass of ``HTTPBearer`` so the OpenAPI schema declares the bearer scheme,
    with the whole check in one dependency.
    """

    def __init__(self, permission: Permission) -> None:
        super().__init__(auto_error=False, description="An API key: `Authorization: Bearer sfk_…`")
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return authorize(request, self.permission)


def authorize(request: Request, permission: Permission) -> Principal:
    """The caller of ``request`` if its API key is valid and its role has ``permission``."""
    header = request.headers.get("authorization")
    if not header:
        raise NotAuthenticated("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <API key>'")
    principal: Principal = request.app.state.platform.keys.principal(token.strip())
    if not allowed(principal.role, permission):
        raise Forbidden(f"role {principal.role!r} may not do this (needs {permission.value!r})")
    return principal


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
KeysAdmin = Annotated[Principal, Depends(_caller(Permission.KEYS))]
MetricsReader = Annotated[Principal, Depends(_caller(Permission.METRICS))]

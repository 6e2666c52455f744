"""Dependencies as ``Annotated`` aliases: the platform, the calling principal, role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shopfloor.errors import Forbidden, NotAuthenticated
from shopfloor.platform import Platform
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission, allowed

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sfk_…`")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise NotAuthenticated("missing API key: send 'Authorization: Bearer <key>'")
    principal = request.app.state.platform.keys.principal(credentials.credentials.strip())
    request.state.principal = principal
    return principal


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency that lets the request through only if the caller's role has ``permission``."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not allowed(principal.role, permission):
            raise Forbidden(f"role {principal.role!r} may not do this (needs {permission.value!r})")
        return principal

    return check


# The caller, checked for one permission: route parameters are typed with these.
DatasetsReader = Annotated[Principal, Depends(require(Permission.DATASETS_READ))]
DatasetsWriter = Annotated[Principal, Depends(require(Permission.DATASETS_WRITE))]
JobsReader = Annotated[Principal, Depends(require(Permission.JOBS_READ))]
JobsWriter = Annotated[Principal, Depends(require(Permission.JOBS_WRITE))]
ModelsReader = Annotated[Principal, Depends(require(Permission.MODELS_READ))]
ModelsWriter = Annotated[Principal, Depends(require(Permission.MODELS_WRITE))]
Predictor = Annotated[Principal, Depends(require(Permission.PREDICT))]
Explainer = Annotated[Principal, Depends(require(Permission.EXPLAIN))]
KeysAdmin = Annotated[Principal, Depends(require(Permission.KEYS))]
MetricsReader = Annotated[Principal, Depends(require(Permission.METRICS))]

"""Who is looking at a console page: the session cookie, the key in it checked as the API checks a
bearer key (validity, rate limits, role, audit), and the CSRF token every form must send back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from shopfloor.api.deps import admit_key
from shopfloor.context import Platform
from shopfloor.errors import Forbidden, NotAuthenticated
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission, allowed
from shopfloor.security.sessions import COOKIE, Session, csrf_ok, csrf_token, open_cookie

#: The form field that carries the CSRF token.
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Viewer:
    """The signed-in caller of a page: principal, session and the session's CSRF token."""

    principal: Principal
    session: Session
    csrf: str

    @property
    def tenant(self) -> str:
        return self.principal.tenant

    def can(self, permission: Permission | str) -> bool:
        return allowed(self.principal.role, Permission(permission))


def token_text(value: object) -> str | None:
    """A form field's value as text (an uploaded file in its place is no token)."""
    return value if isinstance(value, str) else None


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def current_viewer(request: Request, permission: Permission | None = None) -> Viewer:
    """The viewer of ``request``; 401 (the console sends the browser to sign in) without a valid
    session or when its key was revoked, 403 when the role lacks ``permission``."""
    platform = platform_of(request)
    session = open_cookie(platform.secret, request.cookies.get(COOKIE))
    if session is None:
        raise NotAuthenticated("sign in with an API key to use the console")
    principal = await admit_key(request, session.api_key, permission)
    return Viewer(principal, session, csrf_token(platform.secret, session))


def _page(permission: Permission | None) -> Callable[[Request], Awaitable[Viewer]]:
    async def dependency(request: Request) -> Viewer:
        return await current_viewer(request, permission)

    return dependency


def _form(permission: Permission | None) -> Callable[[Request], Awaitable[Viewer]]:
    async def dependency(request: Request) -> Viewer:
        viewer = await current_viewer(request, permission)
        form = await request.form()  # Starlette keeps the parsed form for the route's own fields
        token = form.get(CSRF_FIELD)
        if not csrf_ok(platform_of(request).secret, viewer.session, token_text(token)):
            raise Forbidden(
                "this form was not sent from a page of your current console session (CSRF token "
                "missing or wrong); reload the page and try again"
            )
        return viewer

    return dependency


# Pages (GET) by the permission they need; Any: every signed-in role.
AnyViewer = Annotated[Viewer, Depends(_page(None))]
DatasetsViewer = Annotated[Viewer, Depends(_page(Permission.DATASETS_READ))]
JobsViewer = Annotated[Viewer, Depends(_page(Permission.JOBS_READ))]
ModelsViewer = Annotated[Viewer, Depends(_page(Permission.MODELS_READ))]
TrainViewer = Annotated[Viewer, Depends(_page(Permission.JOBS_WRITE))]
PredictViewer = Annotated[Viewer, Depends(_page(Permission.PREDICT))]
PredictionsViewer = Annotated[Viewer, Depends(_page(Permission.PREDICTIONS_READ))]
AdminViewer = Annotated[Viewer, Depends(_page(Permission.KEYS))]
AlertsViewer = Annotated[Viewer, Depends(_page(Permission.ALERTS_READ))]
AlertsWriteViewer = Annotated[Viewer, Depends(_page(Permission.ALERTS_WRITE))]

# Form posts (CSRF checked) by the permission they need.
AnyForm = Annotated[Viewer, Depends(_form(None))]
DatasetsForm = Annotated[Viewer, Depends(_form(Permission.DATASETS_WRITE))]
JobsForm = Annotated[Viewer, Depends(_form(Permission.JOBS_WRITE))]
ModelsForm = Annotated[Viewer, Depends(_form(Permission.MODELS_WRITE))]
PredictForm = Annotated[Viewer, Depends(_form(Permission.PREDICT))]
ExplainForm = Annotated[Viewer, Depends(_form(Permission.EXPLAIN))]
AdminForm = Annotated[Viewer, Depends(_form(Permission.KEYS))]
AlertsForm = Annotated[Viewer, Depends(_form(Permission.ALERTS_WRITE))]

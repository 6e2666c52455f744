"""Errors on console pages as pages: the API's one error mapping (``api/problems.py``) asks
:func:`html_problem` first, which answers only for the console and leaves every API route to
problem+json."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from shopfloor.api.problems import ErrorInfo
from shopfloor.console.auth import Viewer, platform_of
from shopfloor.console.render import page
from shopfloor.errors import ShopfloorError
from shopfloor.security.sessions import COOKIE, csrf_token, open_cookie

#: Tag on every console route (in the app's route list).
TAG = "console"
#: The package of every console page: an error on a route whose endpoint lives here is a page.
CONSOLE_PACKAGE = "shopfloor.console."
#: Paths that belong to the API and its documentation, never to the console.
API_PREFIXES = (
    "/v1/", "/v2", "/openai/", "/anomalydetector/", "/aws/", "/healthz", "/readyz", "/metrics", "/docs",
    "/redoc", "/static/", "/openapi",
)


def is_console(request: Request) -> bool:
    """Whether ``request`` is for a console page (a matched route of the console's, or an unknown
    path that a browser asked for as HTML)."""
    route = request.scope.get("route")
    if route is not None:
        endpoint = getattr(route, "endpoint", None)
        return getattr(endpoint, "__module__", "").startswith(CONSOLE_PACKAGE)
    path = request.url.path
    return not path.startswith(API_PREFIXES) and "text/html" in request.headers.get("accept", "")


def _signed_in(request: Request) -> Viewer | None:
    """Who is signed in, for the menu of an error page; None when nobody (or the key is no longer
    valid). Read from the key cache only: no rate count, no audit, nothing raised."""
    platform = platform_of(request)
    session = open_cookie(platform.secret, request.cookies.get(COOKIE))
    if session is None:
        return None
    try:
        principal = platform.keys.principal(session.api_key)
    except ShopfloorError:
        return None
    return Viewer(principal, session, csrf_token(platform.secret, session))


def html_problem(request: Request, error: ErrorInfo) -> Response | None:
    """The console's answer to an error, or None to let the API answer with problem+json."""
    if not is_console(request):
        return None
    status = error.status
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        where = "/signin" if request.method != "GET" else f"/signin?next={quote(target, safe='/')}"
        response: Response = RedirectResponse(where, status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response
    back = request.headers.get("referer") or "/"
    if not back.startswith(str(request.base_url)):
        back = "/"
    return page(
        request,
        "error.html",
        _signed_in(request),
        status=status,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        back=back,
    )

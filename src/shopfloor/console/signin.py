"""Sign-in with an API key, sign-out.

The key travels once, in the sign-in form's body, and then lives only in the sealed HttpOnly,
SameSite=Strict session cookie. The sign-in form has its own CSRF pair (a random cookie and its
HMAC in the form), so that another site cannot sign a browser into an attacker's session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.api.deps import admit_key
from shopfloor.console.auth import CSRF_FIELD, platform_of, token_text
from shopfloor.console.render import page
from shopfloor.errors import NotAuthenticated
from shopfloor.security.sessions import COOKIE, MAX_AGE_S, csrf_ok, open_cookie, seal
from shopfloor.services import audit

router = APIRouter(include_in_schema=False)

#: The pre-session cookie of the sign-in form.
SIGNIN_COOKIE = "shopfloor_signin"
_SIGNIN_LABEL = b"shopfloor console sign-in v1"


def _signin_token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, _SIGNIN_LABEL + nonce.encode(), hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path on this server only (never ``//host`` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _form(request: Request, *, status: int = 200, error: str = "", next_path: str = "/") -> HTMLResponse:
    secret = platform_of(request).secret
    nonce = secrets.token_urlsafe(18)
    response = page(
        request,
        "signin.html",
        None,
        status=status,
        title="Sign in",
        error=error,
        next_path=safe_next(next_path),
        signin_token=_signin_token(secret, nonce),
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        nonce,
        max_age=1800,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/") -> Response:
    if open_cookie(platform_of(request).secret, request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(request, next_path=next)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    platform = platform_of(request)
    nonce = request.cookies.get(SIGNIN_COOKIE) or ""
    if not nonce or not hmac.compare_digest(_signin_token(platform.secret, nonce), csrf_token):
        return _form(
            request,
            status=403,
            next_path=next,
            error="This sign-in form expired or was not sent from this server; please try again.",
        )
    if not api_key.strip():
        return _form(request, status=422, next_path=next, error="Enter your API key (it starts with sfk_).")
    try:
        principal = await admit_key(request, api_key.strip(), None)
    except NotAuthenticated as exc:
        return _form(request, status=401, next_path=next, error=f"Sign-in refused: {exc.detail}.")
    value, _ = seal(platform.secret, api_key.strip())
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE, value, max_age=MAX_AGE_S, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    audit.record(platform, principal, "console.signin", principal.key_id)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    # Signing out needs the session's CSRF token too: a cross-site form must not end a session.
    platform = platform_of(request)
    session = open_cookie(platform.secret, request.cookies.get(COOKIE))
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if session is not None and not csrf_ok(platform.secret, session, token_text(token)):
        return RedirectResponse("/", status_code=303)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response

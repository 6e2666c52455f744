"""Templates to HTML responses: one Jinja2 environment with autoescaping, so text from users (column
names, descriptions, cells) is always text, never markup."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shopfloor.console.auth import CSRF_FIELD, Viewer
from shopfloor.security.roles import Permission
from shopfloor.version import __version__

HERE = Path(__file__).parent
#: Where the console's own CSS, script and icons are served from.
STATIC_URL = "/console-static"

#: Navigation: (label, path, the permission that shows it).
NAV = (
    ("Home", "/", None),
    ("Datasets", "/datasets", Permission.DATASETS_READ),
    ("Train", "/train", Permission.JOBS_WRITE),
    ("Jobs", "/jobs", Permission.JOBS_READ),
    ("Models", "/models", Permission.MODELS_READ),
    ("Alerts", "/alerts", Permission.ALERTS_READ),
    ("Keys", "/admin/keys", Permission.KEYS),
    ("Audit", "/admin/audit", Permission.KEYS),
    ("Quotas", "/admin/quotas", Permission.KEYS),
    ("Masking", "/admin/masking", Permission.KEYS),
)


def _when(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ")[:19]


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _size(n: Any) -> str:
    if not isinstance(n, int | float):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _plain(value: Any) -> str:
    """A profile value as short text: mappings as ``key value`` pairs, lists comma-separated."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return _number(value)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, number=_number, size=_size, query=urlencode, plain=_plain)
    env.globals.update(static=STATIC_URL, version=__version__, csrf_field=CSRF_FIELD)
    return env


def page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    *,
    status: int = 200,
    title: str = "",
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered for ``viewer`` (None on the sign-in and error pages of a signed-out
    browser). Pages hold tenant data, so no cache keeps them."""
    shown = [] if viewer is None else [(n, p) for n, p, need in NAV if need is None or viewer.can(need)]
    html = (
        environment()
        .get_template(template)
        .render(request=request, viewer=viewer, nav=shown, path=request.url.path, title=title, **context)
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def png(image: bytes, max_age_s: int = 60) -> Response:
    """A chart as a PNG answer, cached by this browser only (it shows one tenant's data)."""
    return Response(image, media_type="image/png", headers={"Cache-Control": f"private, max-age={max_age_s}"})

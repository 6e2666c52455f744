"""Operations for admins: keys (the secret shown once), the audit log with filters, quotas and
usage with the prediction log's retention, and the masking policy with a live preview. Each action
is the API's own (and audited)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.api.routes.keys import create, revoke
from shopfloor.api.routes.masking import replace_policy
from shopfloor.api.routes.monitoring import set_retention as keep_days
from shopfloor.api.routes.views import key_view
from shopfloor.console.auth import AdminForm, AdminViewer, Viewer, platform_of
from shopfloor.console.render import page
from shopfloor.console.validated import validated
from shopfloor.errors import InvalidInput, ShopfloorError
from shopfloor.schemas.datasets import MaskingPolicyBody
from shopfloor.schemas.monitoring import RetentionUpdate
from shopfloor.security import limits
from shopfloor.security.roles import ROLE_PERMISSIONS
from shopfloor.services import masking, prediction_log

router = APIRouter(prefix="/admin")
AUDIT_PAGE = 100


def _keys(
    request: Request,
    viewer: Viewer,
    *,
    created: dict[str, Any] | None = None,
    error: ShopfloorError | None = None,
    status: int = 200,
) -> HTMLResponse:
    keys = [key_view(k) for k in platform_of(request).store.list_keys(viewer.tenant)]
    return page(
        request,
        "keys.html",
        viewer,
        status=status,
        title="API keys",
        keys=keys,
        created=created,
        roles=sorted(ROLE_PERMISSIONS),
        error=error,
    )


@router.get("/keys", response_class=HTMLResponse)
def keys(request: Request, viewer: AdminViewer) -> HTMLResponse:
    return _keys(request, viewer)


@router.post("/keys", response_class=HTMLResponse)
def create_key(
    request: Request,
    viewer: AdminForm,
    role: Annotated[str, Form(max_length=20)],
    name: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    if role not in ROLE_PERMISSIONS:
        error = InvalidInput(
            f"unknown role {role!r}", errors=[{"loc": ["form", "role"], "msg": "unknown role"}]
        )
        return _keys(request, viewer, error=error, status=422)
    new = create(platform_of(request), viewer.principal, role, name.strip() or None)
    # The secret is in this answer only: it is not stored anywhere it could be shown again.
    return _keys(request, viewer, created={**key_view(new.key), "secret": new.secret}, status=201)


@router.post("/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str, viewer: AdminForm) -> Response:
    revoke(platform_of(request), viewer.principal, key_id)
    return RedirectResponse("/admin/keys", status_code=303)


def _moment(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{field}: {text!r} is not a date and time (e.g. 2026-12-03T08:00)",
            errors=[{"loc": ["query", field], "msg": "not an ISO 8601 date and time"}],
        ) from None


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, viewer: AdminViewer) -> HTMLResponse:
    names = ("action", "key_id", "since", "until", "after_id")
    q = {k: request.query_params.get(k, "").strip() for k in names}
    after = int(q["after_id"]) if q["after_id"].isdigit() and len(q["after_id"]) < 19 else None
    events = platform_of(request).store.list_audit(
        viewer.tenant,
        action=q["action"] or None,
        key_id=q["key_id"] or None,
        since=_moment(q["since"], "since"),
        until=_moment(q["until"], "until"),
        after_id=after,
        limit=AUDIT_PAGE,
    )
    following = None
    if len(events) == AUDIT_PAGE:
        following = {**{k: v for k, v in q.items() if v}, "after_id": events[-1].id}
    return page(request, "audit.html", viewer, title="Audit log", events=events, q=q, following=following)


def _quotas(
    request: Request,
    viewer: Viewer,
    *,
    days: str | None = None,
    error: ShopfloorError | None = None,
    status: int = 200,
    saved: bool = False,
) -> HTMLResponse:
    platform = platform_of(request)
    kept = prediction_log.retention_view(platform, viewer.tenant)
    return page(
        request,
        "quotas.html",
        viewer,
        status=status,
        title="Quotas, usage and retention",
        u=limits.usage(platform, viewer.tenant),
        retention=kept,
        days=days if days is not None else str(kept["own"] or ""),
        error=error,
        saved=saved,
    )


@router.get("/quotas", response_class=HTMLResponse)
def quotas(request: Request, viewer: AdminViewer) -> HTMLResponse:
    return _quotas(request, viewer)


@router.post("/retention", response_class=HTMLResponse)
def set_retention(
    request: Request, viewer: AdminForm, days: Annotated[str, Form(max_length=20)] = ""
) -> HTMLResponse:
    """The tenant's prediction-log retention in days; empty: back to the server default."""
    try:
        body = validated(RetentionUpdate, {"days": days.strip() or None}, "retention", root="form")
        keep_days(body, platform_of(request), viewer.principal)
    except ShopfloorError as exc:
        return _quotas(request, viewer, days=days, error=exc, status=exc.status)
    return _quotas(request, viewer, saved=True)


def _masking(
    request: Request,
    viewer: Viewer,
    *,
    text: str = "",
    preview: dict[str, Any] | None = None,
    policy_text: str | None = None,
    error: ShopfloorError | None = None,
    status: int = 200,
    saved: bool = False,
) -> HTMLResponse:
    stored = masking.stored(platform_of(request), viewer.tenant)
    shown = policy_text if policy_text is not None else json.dumps(stored, indent=2)
    return page(
        request,
        "masking.html",
        viewer,
        status=status,
        title="Masking policy",
        policy=shown,
        text=text,
        preview=preview,
        error=error,
        saved=saved,
    )


@router.get("/masking", response_class=HTMLResponse)
def masking_page(request: Request, viewer: AdminViewer) -> HTMLResponse:
    return _masking(request, viewer)


@router.post("/masking", response_class=HTMLResponse)
def set_masking(
    request: Request, viewer: AdminForm, policy: Annotated[str, Form(max_length=200_000)]
) -> Response:
    try:
        body = json.loads(policy)
        if not isinstance(body, dict):
            where = [{"loc": ["form", "policy"], "msg": "not an object"}]
            raise InvalidInput("the policy must be a JSON object", errors=where)
        checked = validated(MaskingPolicyBody, body, "policy", root="policy").model_dump()
        replace_policy(platform_of(request), viewer.principal, checked)
    except ValueError as exc:  # not JSON
        error = InvalidInput(
            f"the policy is not valid JSON: {exc}", errors=[{"loc": ["form", "policy"], "msg": str(exc)}]
        )
        return _masking(request, viewer, policy_text=policy, error=error, status=422)
    except ShopfloorError as exc:
        return _masking(request, viewer, policy_text=policy, error=exc, status=exc.status)
    return _masking(request, viewer, saved=True)


@router.post("/masking/preview", response_class=HTMLResponse)
def preview(
    request: Request, viewer: AdminForm, text: Annotated[str, Form(max_length=20_000)] = ""
) -> Response:
    found = masking.preview(platform_of(request), viewer.tenant, text) if text else None
    return _masking(request, viewer, text=text, preview=found)

"""The audit log and the tenant's quotas (admins only, own tenant)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from shopfloor.api.deps import Admin, PlatformDep
from shopfloor.context import Platform
from shopfloor.registry.entities import AuditEvent
from shopfloor.schemas.common import MAX_INT
from shopfloor.security import limits

router = APIRouter(tags=["audit"])

MAX_LIMIT = 10_000
PAGE = 1000  # rows read per query while streaming JSON lines
JSONL = "application/x-ndjson"


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    tenant: str
    key_id: str | None
    role: str | None
    action: str
    target: str | None
    outcome: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventPublic]
    next_after_id: int | None  # pass as after_id for the next page; null when this page was short


class QuotasPublic(BaseModel):
    tenant: str
    own: dict[str, int | None]
    limits: dict[str, int]
    usage: dict[str, int]
    rates: dict[str, Any]  # shared by every server process: current window per tenant and key


class AuditFilter(BaseModel):
    action: str | None = None
    key_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None
    limit: int = 1000


def _filters(default_limit: int) -> Any:
    """The query parameters both audit routes take, as one dependency (they differ in the default limit)."""

    def audit_filter(
        action: Annotated[str | None, Query(description="e.g. dataset.upload, prediction.count")] = None,
        key_id: Annotated[str | None, Query()] = None,
        since: Annotated[datetime | None, Query(description="ISO 8601; events at or after")] = None,
        until: Annotated[datetime | None, Query(description="ISO 8601; events before")] = None,
        after_id: Annotated[
            int | None, Query(ge=0, le=MAX_INT, description="Paging: events after this id")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = default_limit,
    ) -> AuditFilter:
        return AuditFilter(
            action=action, key_id=key_id, since=since, until=until, after_id=after_id, limit=limit
        )

    return audit_filter


PageFilter = Annotated[AuditFilter, Depends(_filters(1000))]
ExportFilter = Annotated[AuditFilter, Depends(_filters(MAX_LIMIT))]


def _view(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "tenant": e.tenant,
        "key_id": e.key_id,
        "role": e.role,
        "action": e.action,
        "target": e.target,
        "outcome": e.outcome,
        "detail": e.detail,
    }


def _lines(platform: Platform, tenant: str, f: AuditFilter) -> Iterator[bytes]:
    # Read in pages so a 10,000-event export never holds the whole answer in memory.
    left, after = f.limit, f.after_id
    while left > 0:
        page = platform.store.list_audit(
            tenant,
            action=f.action,
            key_id=f.key_id,
            since=f.since,
            until=f.until,
            after_id=after,
            limit=min(PAGE, left),
        )
        for e in page:
            yield json.dumps(_view(e), default=str, separators=(",", ":")).encode() + b"\n"
        if len(page) < min(PAGE, left):
            return
        left -= len(page)
        after = page[-1].id


def _export(platform: Platform, tenant: str, f: AuditFilter) -> StreamingResponse:
    return StreamingResponse(_lines(platform, tenant, f), media_type=JSONL)


@router.get(
    "/v1/audit",
    response_model=AuditPage,
    summary="The tenant's audit log, oldest first; ?format=jsonl streams JSON lines",
    responses={200: {"content": {JSONL: {}}}},
)
def list_audit(
    platform: PlatformDep,
    principal: Admin,
    f: PageFilter,
    format: Annotated[Literal["json", "jsonl"], Query()] = "json",
) -> Any:
    if format == "jsonl":
        return _export(platform, principal.tenant, f)
    events = platform.store.list_audit(principal.tenant, **f.model_dump())
    last = events[-1].id if len(events) == f.limit and events else None
    return {"items": [_view(e) for e in events], "next_after_id": last}


@router.get(
    "/v1/audit/export",
    response_class=StreamingResponse,
    summary="The tenant's audit log as JSON lines (same filters as /v1/audit)",
    responses={200: {"content": {JSONL: {}}}},
)
def export_audit(platform: PlatformDep, principal: Admin, f: ExportFilter) -> StreamingResponse:
    return _export(platform, principal.tenant, f)


@router.get("/v1/quotas", response_model=QuotasPublic, summary="The tenant's limits and current usage")
def get_quotas(platform: PlatformDep, principal: Admin) -> Any:
    return limits.usage(platform, principal.tenant)

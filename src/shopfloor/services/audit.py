"""The append-only audit log: who (key, tenant, role) did what, to what, when, and with what outcome.

Changes (uploads, jobs, aliases, keys, quotas) are written at once by :func:`record`, after the
change succeeded. Two kinds of events are too frequent for one write each and are buffered per
process instead, then written by :func:`flush` (the API's lifespan calls it every second and at
shutdown):

* predictions: calls of predict and explain are counted per (tenant, key, model, version,
  minute) and written as one ``prediction.count`` event once the minute has closed. Each API
  process writes its own events, so with several workers a minute may have one event per worker.
* denied requests (401 with a well-formed but wrong key, 403): every one against a real key is
  recorded, floods of one key and of unknown key ids are summarised per minute, so a client
  hammering with made-up keys can neither turn the audit log into a write load nor hide real
  denials (see :mod:`shopfloor.services.denials`).

Secrets never go in: keys whose name says secret, token, password or authorization are dropped
from the details, and callers pass only ids.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from shopfloor.context import Platform
from shopfloor.registry.entities import AuditEvent
from shopfloor.security.keys import Principal
from shopfloor.services.denials import AUTH_DENIED, AUTH_DENIED_SUMMARY, PLATFORM, Denials

log = logging.getLogger(__name__)

_SECRET_WORDS = ("secret", "token", "password", "authorization")

PREDICTION_COUNT = "prediction.count"
__all__ = [
    "AUTH_DENIED",
    "AUTH_DENIED_SUMMARY",
    "PLATFORM",
    "PREDICTION_COUNT",
    "Buffer",
    "buffer",
    "flush",
    "flush_every",
    "record",
]


def record(
    platform: Platform,
    principal: Principal | None,
    action: str,
    target: str | None = None,
    outcome: str = "ok",
    **detail: Any,
) -> None:
    """Write one audit event now. ``principal`` is None for local administration (the CLI)."""
    if principal is None:
        tenant, key_id, role = str(detail.pop("tenant")), None, None
    else:
        tenant, key_id, role = principal.tenant, principal.key_id, principal.role
    event = AuditEvent(
        tenant=tenant,
        action=action,
        outcome=outcome,
        key_id=key_id,
        role=role,
        target=target,
        detail=_clean(detail),
        at=datetime.now(UTC),
    )
    platform.store.add_audit([event])


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in detail.items() if v is not None and not any(w in k.lower() for w in _SECRET_WORDS)
    }


class Buffer:
    """One process's buffered events. Predictions and ``later`` events are touched by the event loop
    only (``take`` included), so they need no lock; denials keep their own (:class:`Denials`)."""

    def __init__(self) -> None:
        # (tenant, key id, role, model, version, kind, minute) -> calls
        self.predictions: dict[tuple[str, str, str, str, int, str, int], int] = {}
        self.events: list[AuditEvent] = []
        self.denials = Denials()

    def count(self, principal: Principal, model: str, version: int, kind: str, records: int = 1) -> None:
        """Count ``records`` predicted (or explained) for one key and model version this minute."""
        bucket = (principal.tenant, principal.key_id, principal.role, model, version, kind, _minute())
        self.predictions[bucket] = self.predictions.get(bucket, 0) + records

    def forbidden(self, principal: Principal, **detail: Any) -> None:
        """A request of a real key refused for its role (403)."""
        target = detail.pop("path", None)
        self.denials.denied(
            principal.tenant, principal.key_id, principal.role, target, _clean(detail), datetime.now(UTC)
        )

    def later(self, principal: Principal, action: str, target: str | None, **detail: Any) -> None:
        """An event written with the next flush (within a second): for code on the event loop."""
        self.events.append(
            AuditEvent(
                tenant=principal.tenant,
                action=action,
                key_id=principal.key_id,
                role=principal.role,
                target=target,
                detail=_clean(detail),
                at=datetime.now(UTC),
            )
        )

    def bad_key(self, key_id: str, **detail: Any) -> None:
        """A well-formed key that failed: its tenant is looked up when flushing, off the request path."""
        self.denials.bad_key(key_id, {**_clean(detail), "at": datetime.now(UTC)})

    def take(self, everything: bool) -> tuple[list[AuditEvent], dict[str, tuple[int, dict[str, Any]]], int]:
        """Remove and return what is ready: predictions of closed minutes (or all) and ``later``
        events, and the failed key ids waiting for their lookup (with the count not kept)."""
        now = _minute()
        events: list[AuditEvent] = []
        for bucket in [b for b in self.predictions if everything or b[-1] < now]:
            calls = self.predictions.pop(bucket)
            tenant, key_id, role, model, version, kind, minute = bucket
            start = datetime.fromtimestamp(minute * 60, UTC)
            events.append(
                AuditEvent(
                    tenant=tenant,
                    action=PREDICTION_COUNT,
                    key_id=key_id,
                    role=role,
                    target=f"{model}:{version}",
                    detail={
                        "model": model,
                        "version": version,
                        "kind": kind,
                        "minute": start.isoformat(),
                        "count": calls,
                    },
                    at=start,
                )
            )
        events, self.events = events + self.events, []
        pending, unread = self.denials.take_pending()
        return events, pending, unread


def buffer(platform: Platform) -> Buffer:
    """The process's buffer for ``platform`` (it rides on the platform instance: one per process)."""
    try:
        found: Buffer = vars(platform)["_audit_buffer"]
    except KeyError:
        found = vars(platform).setdefault("_audit_buffer", Buffer())
    return found


def flush(platform: Platform, everything: bool = False) -> int:
    """Write the buffered events that are ready (all of them with ``everything``); returns how many.

    Call it where the buffer is filled (the event loop) or once requests have stopped.
    """
    found = buffer(platform)
    return _write(platform, found.denials, *found.take(everything), everything)


def _write(
    platform: Platform,
    denials: Denials,
    events: list[AuditEvent],
    pending: dict[str, tuple[int, dict[str, Any]]],
    unread: int,
    everything: bool = False,
) -> int:
    """Look the failed key ids up (one query), account their denials, write what is ready."""
    keys = platform.store.get_keys(list(pending)) if pending else {}
    for key_id, (times, first) in pending.items():
        detail = dict(first)
        at = detail.pop("at")
        key = keys.get(key_id)
        if key is None:
            denials.unknown(key_id, at, times)
        else:
            denials.denied(key.tenant, key.id, key.role, detail.pop("path", None), detail, at, times)
    if unread:
        denials.unknown(None, datetime.now(UTC), unread)
    events = events + denials.take(everything)
    for e in events:
        if e.tenant == PLATFORM:
            log.warning("%s requests with unknown API key ids in the minute of %s", e.detail["count"], e.at)
    if events:
        platform.store.add_audit(events)
    return len(events)


async def flush_every(platform: Platform, every_s: float = 1.0) -> None:
    """The lifespan task: write closed minutes and denied requests, off the event loop."""
    while True:
        await asyncio.sleep(every_s)
        found = buffer(platform)
        events, pending, unread = found.take(False)
        try:
            await asyncio.to_thread(_write, platform, found.denials, events, pending, unread)
        except Exception:  # an unavailable registry must not end the task; the next round retries
            log.exception("could not write audit events")


def _minute() -> int:
    return int(time.time() // 60)

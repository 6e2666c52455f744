"""The append-only audit log: who (key, tenant, role) did what, to what, when, and with what outcome.

Changes (uploads, jobs, aliases, keys, quotas) are written at once by :func:`record`, after the
change succeeded. Two kinds of events are too frequent for one write each and are buffered per
process instead, then written by :func:`flush` (the API's lifespan calls it every second and at
shutdown):

* predictions: calls of predict and explain are counted per (tenant, key, model, version,
  minute) and written as one ``prediction.count`` event once the minute has closed. Each API
  process writes its own events, so with several workers a minute may have one event per worker.
* denied requests (401 with a well-formed but wrong key, 403): at most ``DENIED_PER_MINUTE`` per
  process, so a client hammering with a bad key cannot turn the audit log into a write load.

Secrets never go in: keys whose name says secret, token, password or authorization are dropped
from the details, and callers pass only ids.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from shopfloor.platform import Platform
from shopfloor.registry.entities import AuditEvent
from shopfloor.security.keys import Principal

log = logging.getLogger(__name__)

DENIED_PER_MINUTE = 120
_SECRET_WORDS = ("secret", "token", "password", "authorization")

PREDICTION_COUNT = "prediction.count"
AUTH_DENIED = "auth.denied"


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
    """One process's buffered events. Only the event loop touches it (``take`` included), so no lock."""

    def __init__(self) -> None:
        # (tenant, key id, role, model, version, kind, minute) -> calls
        self.predictions: dict[tuple[str, str, str, str, int, str, int], int] = {}
        self.denied: list[AuditEvent] = []
        self.denied_unresolved: list[tuple[str, dict[str, Any]]] = []
        self._denied_window = (0, 0)  # (minute, events in it)

    def count(self, principal: Principal, model: str, version: int, kind: str, records: int = 1) -> None:
        """Count ``records`` predicted (or explained) for one key and model version this minute."""
        bucket = (principal.tenant, principal.key_id, principal.role, model, version, kind, _minute())
        self.predictions[bucket] = self.predictions.get(bucket, 0) + records

    def _admit_denied(self) -> bool:
        minute = _minute()
        seen_minute, n = self._denied_window
        if seen_minute != minute:
            n = 0
        if n >= DENIED_PER_MINUTE:
            return False
        self._denied_window = (minute, n + 1)
        return True

    def forbidden(self, principal: Principal, **detail: Any) -> None:
        if self._admit_denied():
            self.denied.append(
                AuditEvent(
                    tenant=principal.tenant,
                    action=AUTH_DENIED,
                    outcome="denied",
                    key_id=principal.key_id,
                    role=principal.role,
                    target=detail.pop("path", None),
                    detail=_clean(detail),
                    at=datetime.now(UTC),
                )
            )

    def later(self, principal: Principal, action: str, target: str | None, **detail: Any) -> None:
        """An event written with the next flush (within a second): for code on the event loop."""
        self.denied.append(
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
        if self._admit_denied():
            self.denied_unresolved.append((key_id, {**_clean(detail), "at": datetime.now(UTC)}))

    def take(self, everything: bool) -> tuple[list[AuditEvent], list[tuple[str, dict[str, Any]]]]:
        """Remove and return the events ready to write: closed minutes (or all) and denied requests."""
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
        events, self.denied = events + self.denied, []
        unresolved, self.denied_unresolved = self.denied_unresolved, []
        return events, unresolved


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
    return _write(platform, *buffer(platform).take(everything))


def _write(platform: Platform, events: list[AuditEvent], unresolved: list[tuple[str, dict[str, Any]]]) -> int:
    for key_id, detail in unresolved:
        key = platform.store.get_key(key_id)
        if key is None:
            continue  # no tenant to file it under: an id nobody issued
        at = detail.pop("at")
        events.append(
            AuditEvent(
                tenant=key.tenant,
                action=AUTH_DENIED,
                outcome="denied",
                key_id=key.id,
                role=key.role,
                target=detail.pop("path", None),
                detail=detail,
                at=at,
            )
        )
    if events:
        platform.store.add_audit(events)
    return len(events)


async def flush_every(platform: Platform, every_s: float = 1.0) -> None:
    """The lifespan task: write closed minutes and denied requests, off the event loop."""
    while True:
        await asyncio.sleep(every_s)
        events, unresolved = buffer(platform).take(False)
        if not (events or unresolved):
            continue
        try:
            await asyncio.to_thread(_write, platform, events, unresolved)
        except Exception:  # an unavailable registry must not end the task; the next round retries
            log.exception("could not write audit events")


def _minute() -> int:
    return int(time.time() // 60)

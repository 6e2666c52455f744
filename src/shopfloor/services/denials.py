"""Denied requests in the audit log: every denial against a real key is accounted for, floods are
summarised, and unknown key ids can never push real events out.

* A denial against a real key (a 403, or a well-formed key of a real id with a wrong secret or
  revoked) is written as one ``auth.denied`` event (repeats of one id within a flush, about a
  second, as one event with ``count``), up to :data:`PER_KEY_MINUTE` events per key and minute;
  beyond that the key's denials of that minute are counted and written once the minute
  has closed, as one ``auth.denied.summary`` event in the tenant's log. There is no cap shared
  between keys or tenants: one key's flood costs at most that many writes a minute and cannot
  hide another key's denials.
* Key ids nobody issued have no tenant. They are counted per minute and written once the minute
  has closed as one ``auth.denied.summary`` event under :data:`PLATFORM`, the operator's part of
  the log (``store.list_audit("*")``), with the count, the number of distinct ids and a few of
  them. The ids wait for their lookup for about a second (one flush), at most
  :data:`MAX_PENDING_IDS` distinct ones; more in that second are counted as unknown unread.

The accounting is shared by the event loop (403s) and the flush thread (looked-up keys), so it
takes a lock; it is not on the path of accepted requests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shopfloor.registry.entities import AuditEvent

AUTH_DENIED = "auth.denied"
AUTH_DENIED_SUMMARY = "auth.denied.summary"
#: The audit "tenant" of events that belong to no tenant (floods of unknown key ids).
PLATFORM = "*"
PER_KEY_MINUTE = 20
MAX_PENDING_IDS = 10_000
SAMPLE_IDS = 5


@dataclass
class _KeyMinute:
    tenant: str
    key_id: str | None
    role: str | None
    events: int = 0
    held: int = 0  # denials beyond the per-key cap, written as a summary
    paths: dict[str, int] = field(default_factory=dict)


@dataclass
class _UnknownMinute:
    count: int = 0
    unread: int = 0  # ids beyond MAX_PENDING_IDS in one flush: not looked up
    ids: set[str] = field(default_factory=set)
    sample: list[str] = field(default_factory=list)


class Denials:
    """One process's denial accounting (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[AuditEvent] = []
        self._keys: dict[tuple[str, str | None, int], _KeyMinute] = {}
        self._unknown: dict[int, _UnknownMinute] = {}
        # Well-formed key ids that failed, waiting for the flush to look their tenant up.
        self.pending: dict[str, tuple[int, dict[str, Any]]] = {}
        self.pending_unread = 0

    def denied(
        self,
        tenant: str,
        key_id: str | None,
        role: str | None,
        target: str | None,
        detail: dict[str, Any],
        at: datetime,
        times: int = 1,
    ) -> None:
        """``times`` denials against a real key of ``tenant``: written, or counted for the summary."""
        minute = _minute(at)
        with self._lock:
            slot = self._keys.get((tenant, key_id, minute))
            if slot is None:
                slot = self._keys[(tenant, key_id, minute)] = _KeyMinute(tenant, key_id, role)
            if slot.events < PER_KEY_MINUTE:
                slot.events += 1
                self._events.append(
                    AuditEvent(
                        tenant=tenant,
                        action=AUTH_DENIED,
                        outcome="denied",
                        key_id=key_id,
                        role=role,
                        target=target,
                        # The same id failing again before the flush: one event with the count.
                        detail={**detail, "count": times} if times > 1 else detail,
                        at=at,
                    )
                )
            else:
                slot.held += times
                if target and (target in slot.paths or len(slot.paths) < SAMPLE_IDS):
                    slot.paths[target] = slot.paths.get(target, 0) + times

    def bad_key(self, key_id: str, detail: dict[str, Any]) -> None:
        """A well-formed key id that failed: looked up at the next flush (event loop only)."""
        found = self.pending.get(key_id)
        if found is not None:
            self.pending[key_id] = (found[0] + 1, found[1])
        elif len(self.pending) < MAX_PENDING_IDS:
            self.pending[key_id] = (1, detail)
        else:
            self.pending_unread += 1

    def take_pending(self) -> tuple[dict[str, tuple[int, dict[str, Any]]], int]:
        pending, unread = self.pending, self.pending_unread
        self.pending, self.pending_unread = {}, 0
        return pending, unread

    def unknown(self, key_id: str | None, at: datetime, times: int = 1) -> None:
        """``times`` denials with a key id nobody issued (``None``: ids not looked up)."""
        with self._lock:
            slot = self._unknown.setdefault(_minute(at), _UnknownMinute())
            slot.count += times
            if key_id is None:
                slot.unread += times
            elif len(slot.ids) < MAX_PENDING_IDS:
                slot.ids.add(key_id)
                if len(slot.sample) < SAMPLE_IDS:
                    slot.sample.append(key_id)

    def take(self, everything: bool) -> list[AuditEvent]:
        """The events ready to write: single denials, and the summaries of closed minutes (or all)."""
        now = _minute(datetime.now(UTC))
        with self._lock:
            events, self._events = self._events, []
            for k in [k for k in self._keys if everything or k[2] < now]:
                slot = self._keys.pop(k)
                if slot.held:
                    events.append(
                        _summary(
                            slot.tenant,
                            k[2],
                            key_id=slot.key_id,
                            role=slot.role,
                            count=slot.held,
                            recorded=slot.events,
                            paths=slot.paths,
                        )
                    )
            for m in [m for m in self._unknown if everything or m < now]:
                u = self._unknown.pop(m)
                events.append(
                    _summary(
                        PLATFORM,
                        m,
                        count=u.count,
                        distinct_key_ids=len(u.ids),
                        not_looked_up=u.unread,
                        sample_key_ids=u.sample,
                        reason="unknown API key id",
                    )
                )
        return events


def _summary(
    tenant: str, minute: int, *, key_id: str | None = None, role: str | None = None, **detail: Any
) -> AuditEvent:
    start = datetime.fromtimestamp(minute * 60, UTC)
    return AuditEvent(
        tenant=tenant,
        action=AUTH_DENIED_SUMMARY,
        outcome="denied",
        key_id=key_id,
        role=role,
        target=None,
        detail={"minute": start.isoformat(), **detail},
        at=start,
    )


def _minute(at: datetime) -> int:
    return int(at.timestamp() // 60)

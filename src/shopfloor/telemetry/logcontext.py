"""The request id, tenant and job id of the work in hand, for every log line that work writes.

The API's outermost middleware binds a :class:`LogContext` per request (its id taken from a sane
``X-Request-ID`` header, else generated); the key check adds the tenant to it; a job process binds
one with the job's id and the id of the request that queued the job. :class:`ContextFilter` copies
the fields onto each log record, so any formatter can show them.

The context object is mutable on purpose: FastAPI runs synchronous endpoints and dependencies in a
copy of the request's context, so a tenant *set* there would not reach the middleware or uvicorn's
access line, while a change to the one shared object does.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass

#: The header a request id comes in and goes out in.
REQUEST_ID_HEADER = b"x-request-id"
#: Longest request id taken from a client.
MAX_REQUEST_ID = 128
# Letters, digits and the few marks of UUIDs, ULIDs and base64 ids: nothing that could break a log
# line, a header or a query (no spaces, quotes, control characters, '@', '%').
_SANE_ID = re.compile(rb"[A-Za-z0-9._:/+=-]{1,%d}" % MAX_REQUEST_ID)
FIELDS = ("request_id", "tenant", "job_id")


@dataclass(slots=True)
class LogContext:
    request_id: str | None = None
    tenant: str | None = None
    job_id: str | None = None


_CURRENT: ContextVar[LogContext | None] = ContextVar("shopfloor_log_context", default=None)


def new_request_id() -> str:
    """A fresh request id: 32 hex digits, the milliseconds since 1970 (12) then 80 random bits (20).

    Ids of later requests sort after earlier ones (as UUIDv7 and ULIDs do): indexes keyed by request
    id, such as the prediction log's, then grow at their end instead of rewriting a random page of a
    large index for every request; 80 random bits keep ids of the same millisecond apart.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def request_id_from(raw: bytes | None) -> str:
    """The client's ``X-Request-ID`` when it is a sane token (at most 128 letters, digits or
    ``. _ : / + = -``), else a new id: an unusable header never refuses a request."""
    if raw is not None and _SANE_ID.fullmatch(raw):
        return raw.decode("ascii")
    return new_request_id()


def bind(context: LogContext) -> Token[LogContext | None]:
    """Make ``context`` the current one (undo with :func:`unbind`)."""
    return _CURRENT.set(context)


def unbind(token: Token[LogContext | None]) -> None:
    _CURRENT.reset(token)


def current() -> LogContext | None:
    return _CURRENT.get()


def current_request_id() -> str | None:
    found = _CURRENT.get()
    return found.request_id if found is not None else None


def set_tenant(tenant: str) -> None:
    """Name the caller's tenant in the current context (seen by every later line of the request)."""
    found = _CURRENT.get()
    if found is not None:
        found.tenant = tenant


class ContextFilter(logging.Filter):
    """Puts ``request_id``, ``tenant`` and ``job_id`` on each record (None outside any context);
    values a caller passed in ``extra=`` are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = _CURRENT.get()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(found, name) if found is not None else None)
        return True

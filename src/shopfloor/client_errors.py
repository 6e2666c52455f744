"""The SDK's errors: client-side problems, and the mapping of error responses to project errors.

Error responses (RFC 9457 problem+json) become the matching :mod:`shopfloor.errors` class,
chosen by the problem's code and then its HTTP status, with ``detail`` and ``errors`` copied
from the body; a 429 becomes :class:`RateLimitedError` with the ``Retry-After`` in seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

import shopfloor.errors as errors
from shopfloor.errors import ShopfloorError


class ClientError(ShopfloorError):
    """A problem met on the client side rather than reported by the server."""

    status, code, title = 500, "client-error", "Client error"


class ConnectionFailed(ClientError):
    """The server could not be reached (refused, DNS, timeout)."""

    status, code, title = 503, "connection-failed", "Cannot reach the Shopfloor server"


class UnexpectedResponse(ClientError):
    """An error status no project error matches, or a body that is not what the API promises."""

    code, title = "unexpected-response", "Unexpected response"


class JobFailed(ClientError):
    """:meth:`Client.wait` saw the job end in ``failed``; ``job`` is the final job dict."""

    code, title = "job-failed", "Job failed"

    @property
    def job(self) -> dict[str, Any]:
        return dict(self.extra.get("job") or {})


class JobTimeout(ClientError):
    """:meth:`Client.wait` gave up before the job reached a terminal status (the job keeps running)."""

    status, code, title = 504, "job-timeout", "Timed out waiting for the job"


class RateLimitedError(ShopfloorError):
    """429: over a rate limit or a quota. ``retry_after`` is the server's ``Retry-After`` in seconds
    (None if it sent none). Idempotent calls have already been retried before this is raised."""

    status, code, title = 429, "rate-limited", "Too many requests"

    @property
    def retry_after(self) -> float | None:
        value = self.extra.get("retry_after")
        return float(value) if value is not None else None


# Explicit, not __subclasses__(): a code the server sends maps to the class documented for it.
_SERVER_ERRORS: tuple[type[ShopfloorError], ...] = (
    errors.InvalidInput,
    errors.BadRequest,
    errors.InvalidDataset,
    errors.UnsupportedMediaType,
    errors.PayloadTooLarge,
    errors.NotAuthenticated,
    errors.Forbidden,
    errors.NotFound,
    errors.Conflict,
    errors.JobCancelled,
    errors.ArtifactCorrupted,
    errors.NotFitted,
    errors.TargetNotAllowed,
    errors.EndpointNotAllowed,
    errors.SourceDenied,
    errors.SourceUnavailable,
    RateLimitedError,
)
_BY_CODE: dict[str, type[ShopfloorError]] = {cls.code: cls for cls in _SERVER_ERRORS}
_BY_CODE["storage-quota-exceeded"] = RateLimitedError  # a quota: a 429 that frees up much later
_BY_STATUS: dict[int, type[ShopfloorError]] = {
    400: errors.BadRequest,
    401: errors.NotAuthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
    422: errors.InvalidInput,
    429: RateLimitedError,
    500: ShopfloorError,
}


def retry_after_s(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), None if absent or bad."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> ShopfloorError:
    """Turn an error response into the matching project error (problem+json or not)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:500] if response.content else ""
        body = {"title": response.reason_phrase, "detail": text or f"HTTP {response.status_code}"}
    code = str(body.get("type") or "").rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    cls = _BY_CODE.get(code) or _BY_STATUS.get(response.status_code) or UnexpectedResponse
    detail = body.get("detail")
    raw_errors = body.get("errors")
    if isinstance(detail, list) and not raw_errors:  # FastAPI's default 422: the list is in detail
        raw_errors, detail = detail, "invalid request"
    if not isinstance(detail, str):
        detail = str(detail) if detail else str(body.get("title") or f"HTTP {response.status_code}")
    err = cls(
        detail,
        errors=[e for e in raw_errors if isinstance(e, dict)] if isinstance(raw_errors, list) else None,
        title=body.get("title") or cls.title,
        type=body.get("type"),
        instance=body.get("instance"),
    )
    err.status = response.status_code  # the server's word, even where the class default differs
    if response.status_code == 429:
        err.extra["retry_after"] = retry_after_s(response)
    return err

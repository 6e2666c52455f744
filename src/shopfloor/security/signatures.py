"""Signed webhooks: how the server signs an alert it sends, and how a receiver checks it.

The signature header of a webhook is ``Shopfloor-Signature: t=<unix seconds>,v1=<hex>``, where
``<hex>`` is HMAC-SHA-256, keyed with the rule's secret (the whole ``whsec_...`` string as
UTF-8), of ``"<t>." + body``: the exact bytes received. A receiver recomputes it, compares in
constant time and refuses a ``t`` too far from its own clock (a replayed old delivery).
Only the standard library: receivers can copy :func:`verify_webhook` as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Shopfloor-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
#: How far a receiver accepts ``t`` from its own clock by default, in seconds.
TOLERANCE_S = 300


def new_webhook_secret() -> str:
    """A fresh secret: ``whsec_`` and 256 random bits, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Shopfloor-Signature`` header value for ``body`` sent at ``timestamp`` (default: now)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={stamp},v1={_mac(secret, stamp, body)}"


def verify_webhook(
    secret: str, body: bytes, header: str, *, tolerance_s: float = TOLERANCE_S, now: float | None = None
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` with ``secret``, made within
    ``tolerance_s`` seconds of ``now``. Any ``v1`` entry may match (several while a secret is
    being replaced). A malformed header is simply not valid."""
    stamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            stamp = int(value)
        elif key == "v1" and value:
            macs.append(value)
    if stamp is None or not macs:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        return False
    expected = _mac(secret, stamp, body)
    return any(hmac.compare_digest(expected, mac) for mac in macs)

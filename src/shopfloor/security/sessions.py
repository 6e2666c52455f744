"""Browser sessions of the console: the API key sealed in a cookie, and the CSRF token that goes with it.

The cookie holds the API key encrypted and authenticated (AES-GCM) under a key derived from the
server secret, so every host that shares the secret reads it and nothing is stored server-side.
The key itself is checked again on every request, so a revoked key ends its sessions at once.
A session lasts :data:`MAX_AGE_S` from sign-in. The CSRF token is an HMAC of the session's random
id: forms carry it in a hidden field, and a request without the matching token changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Name of the session cookie (HttpOnly, SameSite=Strict, Path=/).
COOKIE = "shopfloor_session"
#: Seconds a session lasts from sign-in; then the console asks for the key again.
MAX_AGE_S = 12 * 3600
_SESSION_LABEL = b"shopfloor console session v1"
_CSRF_LABEL = b"shopfloor console csrf v1"
_NONCE = 12


@dataclass(frozen=True)
class Session:
    """What a valid cookie holds: the API key, the session's random id and when it started."""

    api_key: str
    session_id: str
    issued_at: float


def _key(server_secret: bytes, label: bytes) -> bytes:
    return hmac.new(server_secret, label, hashlib.sha256).digest()


def seal(server_secret: bytes, api_key: str, now: float | None = None) -> tuple[str, Session]:
    """A new session for ``api_key``: the cookie value and what it holds."""
    session = Session(api_key, base64.urlsafe_b64encode(os.urandom(18)).decode(), now or time.time())
    claims = json.dumps({"k": session.api_key, "s": session.session_id, "t": session.issued_at})
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_key(server_secret, _SESSION_LABEL)).encrypt(nonce, claims.encode(), COOKIE.encode())
    blob = nonce + sealed
    return base64.urlsafe_b64encode(blob).decode().rstrip("="), session


def open_cookie(server_secret: bytes, value: str | None, now: float | None = None) -> Session | None:
    """The session in cookie ``value``, or None when it is missing, forged, damaged or expired."""
    if not value or len(value) > 4096:
        return None
    try:
        blob = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        cipher = AESGCM(_key(server_secret, _SESSION_LABEL))
        plain = cipher.decrypt(blob[:_NONCE], blob[_NONCE:], COOKIE.encode())
        claims = json.loads(plain)
        session = Session(str(claims["k"]), str(claims["s"]), float(claims["t"]))
    except (ValueError, InvalidTag, KeyError, TypeError):
        return None
    age = (now or time.time()) - session.issued_at
    return session if 0 <= age <= MAX_AGE_S else None


def csrf_token(server_secret: bytes, session: Session) -> str:
    """The token every form of this session must send back."""
    return hmac.new(_key(server_secret, _CSRF_LABEL), session.session_id.encode(), hashlib.sha256).hexdigest()


def csrf_ok(server_secret: bytes, session: Session, token: str | None) -> bool:
    """Whether ``token`` is this session's CSRF token (constant-time)."""
    return bool(token) and hmac.compare_digest(csrf_token(server_secret, session), str(token))

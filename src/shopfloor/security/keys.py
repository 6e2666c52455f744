"""API keys: random secrets, stored as keyed hashes, checked without a slow password hash.

A key looks like ``sfk_<id>_<secret>``. The id finds the row; the secret is
compared as HMAC-SHA-256 under the server secret. Keys are 256-bit random
values, so a slow password hash (argon2, bcrypt) adds cost per request and
no security: nobody can brute-force 256 bits, fast hash or not.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from shopfloor.errors import NotAuthenticated, RegistryUnavailable
from shopfloor.registry.entities import ROLES, ApiKey
from shopfloor.registry.store import GenerationStore, KeyStore

PREFIX = "sfk"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """The caller of a request: which key, which tenant, which role."""

    key_id: str
    tenant: str
    role: str


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str


def hash_secret(server_secret: bytes, secret: str) -> str:
    return hmac.new(server_secret, secret.encode(), hashlib.sha256).hexdigest()


def issue_key(
    store: KeyStore, server_secret: bytes, *, tenant: str, role: str, name: str | None = None
) -> NewKey:
    """Create a key; the full secret is returned here and never stored."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    ident = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    entity = ApiKey(
        id=f"key_{ident}",
        tenant=tenant,
        role=role,
        name=name,
        secret_hash=hash_secret(server_secret, secret),
        created_at=datetime.now(UTC),
    )  # type: ignore[arg-type]
    stored = store.add_key(entity)
    return NewKey(key=stored, secret=f"{PREFIX}_{ident}_{secret}")


#: How long a process trusts the registry generation it last read. A change made through any
#: server reaches every other one within this (plus a request): well under the promised second.
GENERATION_MAX_AGE_S = 0.25


class Generation:
    """The registry's change counter, as this process last read it: caches compare it to their own.

    Every change to cached state (key revocation, aliases, quotas, masking policy) moves the
    counter in the registry, in the transaction of the change, so every process on every host
    that shares the registry sees it. :meth:`current` re-reads it at most every ``max_age_s``
    (one primary-key read: the cost is amortised over the requests in between); a change made
    through :meth:`bump` in this process counts here at once.

    ``current()`` is ``(counter, 0)``: a tuple, compared by equality, as callers store it. If the
    registry cannot be read, the last value stays in use (and the failure is logged once): caches
    keep serving through a short outage, in which no change can be made anyway.
    """

    def __init__(self, store: GenerationStore, max_age_s: float = GENERATION_MAX_AGE_S) -> None:
        self._store = store
        self.max_age_s = max_age_s
        self._seen: tuple[int, int] = (-1, 0)
        self._checked = -1e9
        self._reading = threading.Lock()
        self._failing = False

    def current(self) -> tuple[int, int]:
        if time.monotonic() - self._checked >= self.max_age_s and self._reading.acquire(blocking=False):
            # One thread reads; the others go on with the value in hand meanwhile.
            try:
                self._seen = (self._store.read_generation(), 0)
                self._failing = False
            except RegistryUnavailable as exc:
                if not self._failing:
                    log.warning("cannot read the registry generation, caches keep their entries: %s", exc)
                self._failing = True
            finally:
                self._checked = time.monotonic()
                self._reading.release()
        return self._seen

    def bump(self) -> None:
        """Tell every process (this one at once) that cached state changed."""
        self._seen = (self._store.bump_generation(), 0)
        self._checked = time.monotonic()


class KeyChecker:
    """Resolves ``Authorization`` secrets to principals, with a small cache keyed by the generation."""

    def __init__(
        self, store: KeyStore, server_secret: bytes, generation: Generation, max_entries: int = 4096
    ) -> None:
        self._store = store
        self._secret = server_secret
        self._generation = generation
        self._cache: dict[str, tuple[ApiKey | None, tuple[int, int]]] = {}
        # Tokens already verified under the current generation: a hit skips the HMAC.
        self._verified: dict[str, tuple[Principal, tuple[int, int]]] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def principal(self, token: str) -> Principal:
        gen = self._generation.current()
        hit = self._verified.get(token)
        if hit is not None and hit[1] == gen:
            return hit[0]
        principal = self._check(token, gen)
        with self._lock:
            if len(self._verified) >= self._max:
                self._verified.clear()
            self._verified[token] = (principal, gen)
        return principal

    def _check(self, token: str, gen: tuple[int, int]) -> Principal:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
            raise NotAuthenticated("malformed API key; expected 'Authorization: Bearer sfk_…'")
        key_id, secret = f"key_{parts[1]}", parts[2]
        cached = self._cache.get(key_id)
        if cached is None or cached[1] != gen:
            key = self._store.get_key(key_id)
            with self._lock:
                if len(self._cache) >= self._max:
                    self._cache.clear()
                self._cache[key_id] = (key, gen)
        else:
            key = cached[0]
        # Compare even for unknown ids so timing does not tell which ids exist.
        expected = key.secret_hash if key is not None else "0" * 64
        if not hmac.compare_digest(expected, hash_secret(self._secret, secret)) or key is None:
            raise NotAuthenticated("invalid API key")
        if not key.active:
            raise NotAuthenticated("this API key has been revoked")
        return Principal(key_id=key.id, tenant=key.tenant, role=key.role)

"""API keys: random secrets, stored as keyed hashes, checked without a slow password hash.

A key looks like ``sfk_<id>_<secret>``. The id finds the row; the secret is
compared as HMAC-SHA-256 under the server secret. Keys are 256-bit random
values, so a slow password hash (argon2, bcrypt) adds cost per request and
no security: nobody can brute-force 256 bits, fast hash or not.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopfloor.errors import NotAuthenticated
from shopfloor.registry.entities import ROLES, ApiKey
from shopfloor.registry.store import Store

PREFIX = "sfk"


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
    store: Store, server_secret: bytes, *, tenant: str, role: str, name: str | None = None
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


class Generation:
    """A cheap cross-process change marker: a file replaced on every key or alias change.

    Caches remember the marker they were filled under and drop their entries when it
    moves. The file is looked at no more than every ``max_age_s``: a change made in
    this process counts at once, one made in another process within that time.
    """

    def __init__(self, path: Path, max_age_s: float = 0.02) -> None:
        self.path = path
        self.max_age_s = max_age_s
        self._seen: tuple[int, int] = (0, 0)
        self._checked = -1.0
        path.parent.mkdir(parents=True, exist_ok=True)

    def current(self) -> tuple[int, int]:
        now = time.monotonic()
        if now - self._checked >= self.max_age_s:
            try:
                st = os.stat(self.path)
                self._seen = (st.st_ino, st.st_mtime_ns)
            except FileNotFoundError:
                self._seen = (0, 0)
            self._checked = now
        return self._seen

    def bump(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(8))
        os.replace(tmp, self.path)
        self._checked = -1.0


class KeyChecker:
    """Resolves ``Authorization`` secrets to principals, with a small cache keyed by the generation."""

    def __init__(
        self, store: Store, server_secret: bytes, generation: Generation, max_entries: int = 4096
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

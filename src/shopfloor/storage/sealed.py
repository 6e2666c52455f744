"""Encrypted artifacts: every file a tenant stores goes through here, sealed with that tenant's key.

:class:`SealedArtifacts` wraps any :class:`~shopfloor.storage.base.ArtifactStore`; the backend
only ever sees ``SFE1`` envelopes (see :mod:`shopfloor.security.crypto`). Keep using the raw
store for listing and deleting; never for reading or writing tenant data.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from shopfloor.errors import ArtifactCorrupted, InvalidInput, StoreUnavailable
from shopfloor.registry.entities import TenantKey
from shopfloor.registry.store import DataKeyStore
from shopfloor.security import crypto
from shopfloor.storage.base import ArtifactStore, sha256_bytes, verified
from shopfloor.storage.digest_cache import DigestCache

log = logging.getLogger(__name__)


class SealedArtifacts:
    """Per-tenant AES-256-GCM over an artifact store.

    ``master`` is the master key; tenant data keys are created on first use, stored wrapped in the
    registry, and kept unwrapped in memory for the life of this object (a data key never changes,
    so the cache stays valid across master-key rotations; a restart is needed only for tenants
    whose key this process has not opened yet).
    """

    def __init__(
        self, store: ArtifactStore, master: bytes, registry: DataKeyStore, cache: DigestCache | None = None
    ) -> None:
        self.store = store
        self.cache = cache
        self.registry = registry
        self._master = master
        self.master_key_id = crypto.key_id(master)
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def tenant_key(self, tenant: str) -> bytes:
        """The tenant's data key, created and stored (wrapped) on first use.

        Two processes creating it at once: the registry keeps the first, and both use that one.
        Raises :class:`~shopfloor.security.crypto.KeyUnavailable` if the stored key was wrapped
        by another master key.
        """
        key = self._keys.get(tenant)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(tenant)
            if key is None:
                stored = self.registry.get_tenant_key(tenant)
                if stored is None:
                    fresh = os.urandom(crypto.KEY_BYTES)
                    stored = self.registry.add_tenant_key(
                        TenantKey(
                            tenant=tenant,
                            wrapped_key=crypto.wrap_key(self._master, fresh, tenant),
                            master_key_id=self.master_key_id,
                            created_at=datetime.now(UTC),
                        )
                    )
                key = crypto.unwrap_key(self._master, stored.wrapped_key, tenant)
                self._keys[tenant] = key
        return key

    @staticmethod
    def _check(tenant: str, key: str) -> None:
        # A tenant's files live under its own prefix; sealing another tenant's path with this
        # tenant's key would be a bug that later shows up as an undecryptable file.
        if not tenant or key.split("/", 1)[0] != tenant:
            raise InvalidInput(f"artifact key {key!r} is outside tenant {tenant!r}")

    def put(self, tenant: str, key: str, data: bytes) -> str:
        """Encrypt and store ``data`` at ``key`` (atomic); returns the sha256 of the plaintext."""
        self._check(tenant, key)
        self.store.put_bytes(key, crypto.encrypt(self.tenant_key(tenant), key, data))
        return sha256_bytes(data)

    def put_file(self, tenant: str, key: str, path: Path) -> str:
        """:meth:`put` of a local file's content (read whole: files are bounded by the upload limit)."""
        return self.put(tenant, key, path.read_bytes())

    def get(self, tenant: str, key: str, expected_sha256: str | None = None, *, keep: bool = False) -> bytes:
        """The decrypted content at ``key``.

        ``keep`` (with a digest): files read again and again, such as a model's, are served from
        this host's cache (remote stores only) when it has a copy that passes the same checks,
        else fetched and kept there.

        Raises :class:`~shopfloor.errors.NotFound` if missing, and
        :class:`~shopfloor.errors.ArtifactCorrupted` if it does not authenticate (changed or moved
        on disk) or its plaintext sha256 differs from ``expected_sha256``.
        """
        self._check(tenant, key)
        cache = self.cache if keep else None
        if expected_sha256 is not None and cache is not None:
            cached = self._cached(cache, tenant, expected_sha256)
            if cached is not None:
                return cached
        plain = crypto.decrypt(self.tenant_key(tenant), key, self.store.get_bytes(key))
        if expected_sha256 is None:
            return plain
        verified(key, plain, expected_sha256)
        if cache is not None:  # checked above: only content that matches its digest is kept
            entry = _cache_name(tenant, expected_sha256)
            cache.write(tenant, expected_sha256, crypto.encrypt(self.tenant_key(tenant), entry, plain))
        return plain

    def _cached(self, cache: DigestCache, tenant: str, digest: str) -> bytes | None:
        """This host's copy of the content ``digest``, checked as the store's would be; a copy that
        fails either check is dropped (and the caller fetches the file again)."""
        blob = cache.read(tenant, digest)
        if blob is None:
            return None
        entry = _cache_name(tenant, digest)
        try:
            return verified(entry, crypto.decrypt(self.tenant_key(tenant), entry, blob), digest)
        except ArtifactCorrupted as exc:
            log.warning("dropped a local artifact cache entry of tenant %s: %s", tenant, exc.detail)
            cache.discard(tenant, digest)
            return None

    def probe(self) -> None:
        self.store.probe()

    def exists(self, key: str) -> bool:
        return self.store.exists(key)

    def delete_prefix(self, prefix: str) -> None:
        self.store.delete_prefix(prefix)

    def undo(self, prefix: str, cause: BaseException | None = None) -> None:
        """Remove what a write left under ``prefix`` when it failed with ``cause`` (in an ``except``
        block) or is not needed. If the store is down (``cause`` says so, or the removal finds it),
        the files stay for ``shopfloor doctor --delete-orphans`` (no registry row points at them; a
        write the store answered too late may land after this anyway) and the caller's error is the
        one raised: a request against a hung store waits for one round of timeouts, not two."""
        if isinstance(cause, StoreUnavailable):
            log.warning("left %s in the artifact store: %s", prefix, cause.detail)
            return
        try:
            self.store.delete_prefix(prefix)
        except StoreUnavailable as exc:
            log.warning("left %s in the artifact store: %s", prefix, exc.detail)


def _cache_name(tenant: str, digest: str) -> str:
    """The name a cache entry is sealed under: bound to its tenant and content, never a stored key
    (tenant keys hold no ``.cache`` folder), so an entry cannot pass for another file."""
    return f"{tenant}/.cache/{digest}"

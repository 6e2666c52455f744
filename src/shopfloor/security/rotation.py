"""Master-key rotation: re-wrap every tenant data key, in one transaction, without touching data.

Files stay encrypted under their tenant data keys, which do not change; only the registry's
wrapped copies do. Signatures are keyed by the server secret and stay valid. A running server
keeps the data keys it has already opened; restart it with the new master key after rotating.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import TenantKey
from shopfloor.security import crypto
from shopfloor.settings import Settings

log = logging.getLogger(__name__)


def rotate_master(settings: Settings, new_key: bytes) -> dict[str, Any]:
    """Re-wrap every tenant key from the configured master key to ``new_key``; all or nothing.

    Keys already wrapped by ``new_key`` (a rotation re-run after a crash) are left as they are.
    Returns ``{"old_key_id", "new_key_id", "tenants", "rewrapped"}``.
    Raises :class:`~shopfloor.security.crypto.KeyUnavailable` if a tenant key opens with neither
    key (nothing is written then), :class:`InvalidInput` if ``new_key`` is not 32 bytes.
    """
    from shopfloor.registry.migrate import upgrade
    from shopfloor.registry.store import open_store

    if len(new_key) != crypto.KEY_BYTES:
        raise InvalidInput("the new master key must be 32 bytes (64 hex characters)")
    old_key = crypto.load_master_key(settings)
    old_id, new_id = crypto.key_id(old_key), crypto.key_id(new_key)
    upgrade(settings.resolved_database_url)
    store = open_store(settings.resolved_database_url)
    try:
        current = store.list_tenant_keys()
        replaced = []
        for tk in current:
            if tk.master_key_id == new_id:
                continue
            # Unwrap everything before writing anything: one unreadable key aborts the rotation.
            data_key = crypto.unwrap_key(old_key, tk.wrapped_key, tk.tenant)
            replaced.append(
                TenantKey(
                    tenant=tk.tenant,
                    wrapped_key=crypto.wrap_key(new_key, data_key, tk.tenant),
                    master_key_id=new_id,
                    created_at=tk.created_at,
                    rotated_at=datetime.now(UTC),
                )
            )
        if replaced:
            store.replace_tenant_keys(replaced)
    finally:
        store.close()
    log.info("master key rotated %s -> %s: %d tenant key(s) re-wrapped", old_id, new_id, len(replaced))
    return {"old_key_id": old_id, "new_key_id": new_id, "tenants": len(current), "rewrapped": len(replaced)}


def rotate_development_key(settings: Settings) -> dict[str, Any]:
    """Development mode: generate a new master key, rotate to it, then replace ``<home>/master.key``
    (the old one is kept as ``master.key.previous``).

    The new key is written to ``master.key.next`` *before* the registry changes, so a crash in
    between never loses the key the registry now needs; a re-run resumes with that staged key.
    The final rename is atomic.
    Raises :class:`InvalidInput` when the master key comes from settings (use a key file there).
    """
    if (
        settings.master_key is not None
        or settings.master_key_file is not None
        or settings.mode != "development"
    ):
        raise InvalidInput(
            "the master key is configured (SHOPFLOOR_MASTER_KEY / SHOPFLOOR_MASTER_KEY_FILE or production "
            "mode): give the new key with --new-key-file"
        )
    current = crypto.dev_key_path(settings)
    old_key = crypto.load_master_key(settings)  # creates it on a fresh home: something to rotate from
    staged = current.with_name("master.key.next")
    if staged.exists():
        # A rotation stopped after staging its key: the registry may already need this key, so
        # resume with it (rotate_master skips tenant keys it already re-wrapped) rather than lose it.
        new_key = crypto.read_key_file(staged)
        log.warning("resuming the master-key rotation staged in %s", staged)
    else:
        new_key = crypto.new_master_key()
        crypto.write_key_file(staged, new_key)
    result = rotate_master(settings, new_key)
    previous = current.with_name("master.key.previous")
    previous.unlink(missing_ok=True)
    crypto.write_key_file(previous, old_key)
    os.replace(staged, current)
    return {**result, "key_file": str(current), "previous_key_file": str(previous)}

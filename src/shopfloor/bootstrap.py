"""First start and local administration: migrate the registry, create the default tenant and keys."""

from __future__ import annotations

import logging
from typing import Any

from shopfloor.context import Platform
from shopfloor.registry.migrate import upgrade
from shopfloor.security.access_keys import issue_access_key
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_TENANT = "default"


def prepare(settings: Settings) -> Platform:
    """Migrate the registry to the newest schema and return a platform for it."""
    from shopfloor.security.files import owner_only_files, private_home

    owner_only_files()  # before the registry file (and its WAL) exists
    private_home(settings.home)
    upgrade(settings.resolved_database_url)
    platform = Platform.from_settings(settings)
    platform.store.ensure_tenant(DEFAULT_TENANT)
    return platform


def first_admin_key(platform: Platform) -> str | None:
    """On a registry with no keys at all, create the first admin key and return its secret (else None)."""
    if platform.store.count_keys() > 0:
        return None
    return issue_key(
        platform.store, platform.secret, tenant=DEFAULT_TENANT, role="admin", name="first admin"
    ).secret


def create_key(
    settings: Settings,
    *,
    role: str,
    tenant: str = DEFAULT_TENANT,
    name: str | None = None,
    aws: bool = False,
) -> dict[str, Any]:
    """Create an API key locally, against the registry under ``settings.home`` (no server needed);
    with ``aws`` also an AWS access key id and secret for it (SigV4 clients of the AWS facades)."""
    platform = prepare(settings)
    try:
        platform.store.ensure_tenant(tenant)
        new = issue_key(platform.store, platform.secret, tenant=tenant, role=role, name=name)
        created = {"id": new.key.id, "tenant": tenant, "role": role, "secret": new.secret}
        if aws:
            pair = issue_access_key(platform.store, platform.sealed.tenant_key(tenant), new.key)
            created.update(aws_access_key_id=pair.key.id, aws_secret_access_key=pair.secret)
        return created
    finally:
        platform.close()

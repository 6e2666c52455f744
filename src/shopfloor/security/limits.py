"""Per-key and per-tenant request rates, concurrent jobs and storage, checked per request.

Rates are shared by every API process on every host that uses the registry (see
:mod:`shopfloor.security.rates`): ``shopfloor serve --workers N`` and several servers on one
PostgreSQL enforce the limit once, not once per process.

A tenant's own quotas (``store.get_quotas``) are cached per process and dropped when the
platform generation moves: :func:`set_quotas` bumps it, like key revocation and aliases.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from shopfloor.errors import JOBS_RETRY_AFTER_S, RateLimited, StorageQuotaExceeded
from shopfloor.registry.entities import Quotas
from shopfloor.registry.store import KeyStore, QuotaStore, RateStore
from shopfloor.security.keys import Generation, Principal
from shopfloor.security.rates import WINDOW_S, SharedRates, ceiling, window_of
from shopfloor.settings import Settings

KEY, TENANT = "key:", "tenant:"
MB = 1024 * 1024


class LimitsStore(QuotaStore, RateStore, KeyStore, Protocol):
    """The registry as the limits read it: quotas and usage, shared rate counters, a tenant's keys."""


class LimitsPlatform(Protocol):
    """What the limits read of the process's :class:`~shopfloor.context.Platform` (which sits
    above this module): the settings, the registry and its generation."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> LimitsStore: ...

    @property
    def generation(self) -> Generation: ...


class Limiter:
    """One process's rate leases (shared counts, see :mod:`~shopfloor.security.rates`) and quota cache.
    Get it with :func:`limiter`."""

    def __init__(self, platform: LimitsPlatform) -> None:
        self._platform = platform
        self._generation = platform.generation
        self._settings = platform.settings
        self._quotas: dict[str, tuple[Quotas, tuple[int, int]]] = {}
        self.rates = SharedRates(platform.store)

    def quotas(self, tenant: str) -> Quotas:
        """The tenant's own quotas (``None`` fields: server default), cached under the generation."""
        gen = self._platform.generation.current()
        hit = self._quotas.get(tenant)
        if hit is not None and hit[1] == gen:
            return hit[0]
        quotas = self._platform.store.get_quotas(tenant)
        self._quotas[tenant] = (quotas, gen)
        return quotas

    async def admit(self, principal: Principal) -> None:
        """Count one request of ``principal``; raise :class:`RateLimited` if its key or tenant is over.

        The hot path of every request: two dictionary lookups and two decrements while the
        process holds leased tokens; a claim from the registry (in a thread) once per lease.
        """
        gen = self._generation.current()
        rates = self.rates
        key = rates.leases.get(KEY + principal.key_id)
        tenant = rates.leases.get(TENANT + principal.tenant)
        if key is None or tenant is None or key.gen != gen or tenant.gen != gen:
            limits = effective(self._settings, self.quotas(principal.tenant))
            key = rates.lease(KEY + principal.key_id, limits["key_requests_per_minute"], gen)
            tenant = rates.lease(TENANT + principal.tenant, limits["requests_per_minute"], gen)
        await rates.admit((key, tenant))

    def check_jobs(self, tenant: str) -> None:
        """Raise :class:`RateLimited` if the tenant already has its most queued plus running jobs."""
        most = effective(self._settings, self.quotas(tenant))["max_concurrent_jobs"]
        active = self._platform.store.count_active_jobs(tenant)
        if active >= most:
            raise RateLimited(
                f"tenant {tenant!r} has {active} queued or running job(s), its limit is {most}; "
                "wait for one to finish or cancel one",
                retry_after=JOBS_RETRY_AFTER_S,
            )

    def check_storage(self, tenant: str, incoming_bytes: int) -> None:
        """Raise :class:`StorageQuotaExceeded` if storing ``incoming_bytes`` more would pass the quota."""
        most = effective(self._settings, self.quotas(tenant))["max_storage_bytes"]
        used = self._platform.store.storage_bytes(tenant)
        if used + incoming_bytes > most:
            raise StorageQuotaExceeded(
                f"tenant {tenant!r} stores {used} bytes; {incoming_bytes} more would pass its quota "
                f"of {most} bytes",
                used_bytes=used,
                max_storage_bytes=most,
            )


def limiter(platform: LimitsPlatform) -> Limiter:
    """The process's limiter for ``platform``, made on first use.

    It rides on the platform instance (one per process) so that every caller, the
    ``authorize`` hot path included, finds it with one dictionary lookup.
    """
    try:
        found: Limiter = vars(platform)["_limiter"]
    except KeyError:
        found = vars(platform).setdefault("_limiter", Limiter(platform))
    return found


def effective(settings: Settings, quotas: Quotas) -> dict[str, int]:
    """The limits that apply to a tenant: its own where set, else the server defaults (whole server)."""
    return {
        "requests_per_minute": quotas.requests_per_minute or settings.tenant_requests_per_minute,
        "key_requests_per_minute": quotas.key_requests_per_minute or settings.rate_limit_per_minute,
        "max_concurrent_jobs": quotas.max_concurrent_jobs or settings.tenant_max_concurrent_jobs,
        "max_storage_bytes": quotas.max_storage_bytes or int(settings.tenant_max_storage_mb * MB),
    }


def usage(platform: LimitsPlatform, tenant: str) -> dict[str, Any]:
    """The tenant's limits (own and effective) and what it uses now: for ``GET /v1/quotas`` and the CLI.

    ``rates`` is read from the registry's shared counters, so it is the same whichever server or
    worker answers: per bucket, the tokens servers claimed in the current window (at most one
    lease per server process more than the requests answered), the previous window's count and
    the ceiling the current window has now (the limit less the previous window's weighted share).
    """
    own = platform.store.get_quotas(tenant)
    limits = effective(platform.settings, own)
    now = time.time()
    window = window_of(now)
    keys = [k.id for k in platform.store.list_keys(tenant) if k.active]
    buckets = [TENANT + tenant, *(KEY + k for k in keys)]
    current = platform.store.rate_counts(buckets, window)
    previous = platform.store.rate_counts(buckets, window - 1)

    def bucket(name: str, limit: int) -> dict[str, int]:
        prev = previous.get(name, 0)
        return {
            "limit": limit,
            "used": current.get(name, 0),
            "previous_window": prev,
            "allowed_now": ceiling(limit, prev, now),
        }

    return {
        "tenant": tenant,
        "own": {k: v for k, v in asdict(own).items() if k != "tenant"},
        "limits": limits,
        "usage": {
            "active_jobs": platform.store.count_active_jobs(tenant),
            "storage_bytes": platform.store.storage_bytes(tenant),
        },
        "rates": {
            "shared": True,
            "window_s": WINDOW_S,
            "window_start": datetime.fromtimestamp(window * WINDOW_S, UTC).isoformat(),
            "tenant": bucket(TENANT + tenant, limits["requests_per_minute"]),
            "keys": {k: bucket(KEY + k, limits["key_requests_per_minute"]) for k in keys},
        },
    }


def set_quotas(
    platform: LimitsPlatform,
    tenant: str,
    *,
    rpm: int | None = None,
    key_rpm: int | None = None,
    jobs: int | None = None,
    storage_mb: float | None = None,
) -> Quotas:
    """Change the given quotas of ``tenant`` (others keep their value) and tell every process."""
    for name, value in (("rpm", rpm), ("key_rpm", key_rpm), ("jobs", jobs), ("storage_mb", storage_mb)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, not {value}")
    platform.store.ensure_tenant(tenant)
    current = platform.store.get_quotas(tenant)
    changes: dict[str, Any] = {}
    if rpm is not None:
        changes["requests_per_minute"] = rpm
    if key_rpm is not None:
        changes["key_requests_per_minute"] = key_rpm
    if jobs is not None:
        changes["max_concurrent_jobs"] = jobs
    if storage_mb is not None:
        changes["max_storage_bytes"] = int(storage_mb * MB)
    stored = platform.store.set_quotas(replace(current, **changes))
    platform.generation.bump()
    return stored


def check_output(platform: LimitsPlatform, tenant: str, nbytes: int) -> None:
    """Raise :class:`~shopfloor.errors.StorageQuotaExceeded` before a job writes an output of
    ``nbytes`` (model files, a scored table) that would pass the tenant's storage quota: the job
    fails with that message and nothing is written."""
    limiter(platform).check_storage(tenant, nbytes)


def storage_limit(platform: LimitsPlatform, tenant: str) -> int:
    """The tenant's storage quota in bytes, for a job that stores an output."""
    return effective(platform.settings, platform.store.get_quotas(tenant))["max_storage_bytes"]

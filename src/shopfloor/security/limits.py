"""Per-key and per-tenant request rates, concurrent jobs and storage: checked per request, per process.

Rates are token buckets held in memory by each API process, and each process enforces
``limit / settings.workers``. That is exact in the embedded single-host mode, where uvicorn
spreads connections over its workers about evenly, and costs no I/O on the predict path; a
limiter shared between hosts (Redis, the registry) is future work. The buckets are touched
only from the event loop (``authorize`` runs there), so they need no lock.

A tenant's own quotas (``store.get_quotas``) are cached per process and dropped when the
platform generation moves: :func:`set_quotas` bumps it, like key revocation and aliases.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, replace
from typing import Any

from shopfloor.errors import ShopfloorError
from shopfloor.platform import Platform
from shopfloor.registry.entities import Quotas
from shopfloor.security.keys import Principal
from shopfloor.settings import Settings

_monotonic = time.monotonic
MB = 1024 * 1024
# No telling when a tenant's running jobs end: a client retrying sooner than this only adds load.
JOBS_RETRY_AFTER_S = 30


class RateLimited(ShopfloorError):
    """429: a rate or a quota that frees up with time; ``retry_after`` seconds go in ``Retry-After``."""

    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


#: Stored data does not shrink by itself: ask clients to come back much later (or an operator to
#: raise the quota), not to retry in a loop.
STORAGE_RETRY_AFTER_S = 3600


class StorageQuotaExceeded(RateLimited):
    """429, like every quota, with a long ``Retry-After``: room comes back only when data is deleted
    or the tenant's quota is raised (``shopfloor tenants quotas set``)."""

    code, title = "storage-quota-exceeded", "Storage quota exceeded"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, retry_after=STORAGE_RETRY_AFTER_S)
        self.extra.update(extra)


class _Bucket:
    """A token bucket holding up to ``capacity`` requests, refilled at ``capacity`` per minute."""

    __slots__ = ("capacity", "gen", "rate", "stamp", "tokens")

    def __init__(self, now: float) -> None:
        self.capacity = self.rate = self.tokens = 0.0
        self.stamp = now
        self.gen: tuple[int, int] | None = None

    def resize(self, per_minute: float, gen: tuple[int, int]) -> None:
        # Quotas may have changed: keep what was used, not more than the new capacity.
        used = self.capacity - self.tokens
        self.capacity, self.rate, self.gen = per_minute, per_minute / 60.0, gen
        self.tokens = max(0.0, per_minute - used)


class Limiter:
    """One process's rate buckets and quota cache. Get it with :func:`limiter`."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._generation = platform.generation
        self._settings = platform.settings
        self._workers = platform.settings.workers
        self._quotas: dict[str, tuple[Quotas, tuple[int, int]]] = {}
        self._keys: dict[str, _Bucket] = {}
        self._tenants: dict[str, _Bucket] = {}

    def quotas(self, tenant: str) -> Quotas:
        """The tenant's own quotas (``None`` fields: server default), cached under the generation."""
        gen = self._platform.generation.current()
        hit = self._quotas.get(tenant)
        if hit is not None and hit[1] == gen:
            return hit[0]
        quotas = self._platform.store.get_quotas(tenant)
        self._quotas[tenant] = (quotas, gen)
        return quotas

    def admit(self, principal: Principal) -> None:
        """Count one request of ``principal``; raise :class:`RateLimited` if its key or tenant is over.

        The hot path of every request: both buckets are refilled and taken from inline
        (no calls, no ``min``): about a microsecond in all, generation check included.
        """
        now = _monotonic()
        gen = self._generation.current()
        key = self._keys.get(principal.key_id)
        tenant = self._tenants.get(principal.tenant)
        if key is None or tenant is None or key.gen != gen or tenant.gen != gen:
            key, tenant = self._sized(principal, gen, now)
        k = key.tokens + (now - key.stamp) * key.rate
        if k > key.capacity:
            k = key.capacity
        t = tenant.tokens + (now - tenant.stamp) * tenant.rate
        if t > tenant.capacity:
            t = tenant.capacity
        key.stamp = tenant.stamp = now
        if k >= 1.0 and t >= 1.0:
            key.tokens, tenant.tokens = k - 1.0, t - 1.0
            return
        key.tokens, tenant.tokens = k, t  # refused: neither bucket is charged
        if k < 1.0:
            raise RateLimited(
                f"API key {principal.key_id} is over its {self._per_min(key)} requests per minute",
                retry_after=math.ceil((1.0 - k) / key.rate),
            )
        raise RateLimited(
            f"tenant {principal.tenant!r} is over its {self._per_min(tenant)} requests per minute",
            retry_after=math.ceil((1.0 - t) / tenant.rate),
        )

    def _sized(self, principal: Principal, gen: tuple[int, int], now: float) -> tuple[_Bucket, _Bucket]:
        limits = effective(self._settings, self.quotas(principal.tenant))
        key = self._keys.setdefault(principal.key_id, _Bucket(now))
        tenant = self._tenants.setdefault(principal.tenant, _Bucket(now))
        key.resize(max(1.0, limits["key_requests_per_minute"] / self._workers), gen)
        tenant.resize(max(1.0, limits["requests_per_minute"] / self._workers), gen)
        return key, tenant

    def _per_min(self, bucket: _Bucket) -> int:
        return round(bucket.capacity * self._workers)

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


def limiter(platform: Platform) -> Limiter:
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


def usage(platform: Platform, tenant: str) -> dict[str, Any]:
    """The tenant's limits (own and effective) and what it uses now: for ``GET /v1/quotas`` and the CLI."""
    own = platform.store.get_quotas(tenant)
    return {
        "tenant": tenant,
        "own": {k: v for k, v in asdict(own).items() if k != "tenant"},
        "limits": effective(platform.settings, own),
        "workers": platform.settings.workers,
        "usage": {
            "active_jobs": platform.store.count_active_jobs(tenant),
            "storage_bytes": platform.store.storage_bytes(tenant),
        },
    }


def set_quotas(
    platform: Platform,
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

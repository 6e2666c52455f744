"""CPU-heavy synchronous requests, a few at a time per tenant.

Explanations, optimisation, forecasts, the hub's encoders and dataset or batch uploads (parsed,
checked and profiled) run in the thread pool for seconds.
Each API process lets one tenant run at most ``settings.tenant_heavy_requests`` of them at once;
the next ones wait up to :data:`WAIT_S` for a slot, then get a 429 with ``Retry-After``. So one
tenant sending many explanations at once queues behind itself, and the cores, threads and the
event loop stay free for every other tenant's predictions. Predictions themselves never wait here.

The slots are plain asyncio semaphores touched only from the event loop. A request whose client
went away keeps its slot until its thread finishes: the work still holds the core.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from shopfloor.security.limits import RateLimited

T = TypeVar("T")

#: How long a request waits for one of its tenant's slots before the 429.
WAIT_S = 10.0


class HeavyWork:
    """Per-tenant slots for CPU-heavy requests in one API process (``app.state.heavy``)."""

    def __init__(self, per_tenant: int, wait_s: float = WAIT_S) -> None:
        self.per_tenant = per_tenant
        self.wait_s = wait_s
        self._slots: dict[str, asyncio.Semaphore] = {}

    async def run(self, tenant: str, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in the thread pool once ``tenant`` has a free slot.

        Raises :class:`RateLimited` (429) when none frees up within ``wait_s``; ``what`` names the
        work in that message ("explanations").
        """
        async with self.slot(tenant, what):
            return await run_in_threadpool(fn, *args, **kwargs)

    @asynccontextmanager
    async def slot(self, tenant: str, what: str) -> AsyncIterator[None]:
        """Hold one of ``tenant``'s slots for a block of awaited work (an upload parsed and profiled
        in the thread pool); the same wait and 429 as :meth:`run`."""
        slots = self._slots.get(tenant)
        if slots is None:
            slots = self._slots.setdefault(tenant, asyncio.Semaphore(self.per_tenant))
        if slots.locked():
            try:
                await asyncio.wait_for(slots.acquire(), self.wait_s)
            except TimeoutError:
                raise RateLimited(
                    f"{what}: this tenant already runs {self.per_tenant} CPU-heavy request(s) "
                    f"(explain, optimize, forecast, hub, uploads) in this server process and none "
                    "ended within "
                    f"{self.wait_s:g} s; send them one after another "
                    "(setting SHOPFLOOR_TENANT_HEAVY_REQUESTS)",
                    retry_after=max(1, math.ceil(self.wait_s)),
                ) from None
        else:
            await slots.acquire()
        try:
            yield
        finally:
            slots.release()

"""Per-tenant slots for CPU-heavy requests: a tenant queues behind itself, never other tenants."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from shopfloor.api.heavy import HeavyWork
from shopfloor.security.limits import RateLimited


def _busy(release: threading.Event) -> str:
    release.wait(5)
    return "done"


def test_a_tenant_waits_for_its_own_slot_then_gets_429_while_others_run() -> None:
    async def scenario() -> None:
        heavy = HeavyWork(per_tenant=1, wait_s=0.2)
        release = threading.Event()
        first = asyncio.ensure_future(heavy.run("a", "explanations", _busy, release))
        await asyncio.sleep(0.05)
        # another tenant is not held up by tenant a's running request
        started = time.perf_counter()
        assert await heavy.run("b", "explanations", lambda: "b") == "b"
        assert time.perf_counter() - started < 0.15
        with pytest.raises(RateLimited) as refused:
            await heavy.run("a", "explanations", lambda: "late")
        assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "1"
        assert "SHOPFLOOR_TENANT_HEAVY_REQUESTS" in refused.value.detail
        release.set()
        assert await first == "done"
        # the slot is free again: the next request of tenant a runs
        assert await heavy.run("a", "explanations", lambda: "again") == "again"

    asyncio.run(scenario())


def test_a_waiting_request_runs_when_the_slot_frees_in_time() -> None:
    async def scenario() -> None:
        heavy = HeavyWork(per_tenant=1, wait_s=2.0)
        release = threading.Event()
        first = asyncio.ensure_future(heavy.run("a", "forecasts", _busy, release))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(heavy.run("a", "forecasts", lambda: "second"))
        await asyncio.sleep(0.05)
        assert not second.done()
        release.set()
        assert await first == "done" and await second == "second"

    asyncio.run(scenario())


def test_a_failing_request_gives_its_slot_back() -> None:
    def fail() -> None:
        raise ValueError("boom")

    async def scenario() -> None:
        heavy = HeavyWork(per_tenant=1, wait_s=0.1)
        with pytest.raises(ValueError):
            await heavy.run("a", "explanations", fail)
        assert await heavy.run("a", "explanations", lambda: 1) == 1

    asyncio.run(scenario())


def test_an_upload_holds_its_tenants_slot_for_the_awaited_work() -> None:
    """Uploads are parsed and profiled for seconds: they share the tenant's slots with the other
    heavy requests, and other tenants are not held up."""

    async def scenario() -> None:
        heavy = HeavyWork(per_tenant=1, wait_s=0.2)
        release = asyncio.Event()

        async def upload() -> str:
            async with heavy.slot("a", "dataset uploads"):
                await release.wait()
            return "stored"

        first = asyncio.ensure_future(upload())
        await asyncio.sleep(0.05)
        async with heavy.slot("b", "dataset uploads"):
            pass  # tenant b goes straight in
        with pytest.raises(RateLimited, match="dataset uploads"):
            async with heavy.slot("a", "dataset uploads"):
                pass
        with pytest.raises(RateLimited, match="explanations"):
            await heavy.run("a", "explanations", lambda: "late")
        release.set()
        assert await first == "stored"
        assert await heavy.run("a", "explanations", lambda: "now") == "now"

    asyncio.run(scenario())

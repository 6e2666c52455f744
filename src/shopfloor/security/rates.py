"""Request rates per key and per tenant, shared by every API process on every host through the registry.

Counting. Time is cut into windows of :data:`WINDOW_S` seconds of wall-clock time (the same on
every host). The registry keeps, per bucket (``key:<id>``, ``tenant:<id>``) and window, the
tokens handed out (``rate_windows``). A process claims a small *lease* of tokens with one atomic
upsert that adds them only if the window's count stays within the ceiling, then admits requests
from its lease without touching the database; a lease is never carried into the next window.
So the requests admitted in one window, by all processes together, never pass the limit, and the
predict path writes the registry once per lease, not once per request.

A lease grows: a process's first claim for a bucket in a window is one token, each next one twice
the last, up to :func:`lease_size` (1 % of the limit, at least 1 and at most 100 tokens). Tokens
leased and not used by the end of a window are lost, and they count as used; growing the lease
bounds them by what the process itself admitted in that window (and by one full lease), so a
bucket with little traffic is counted exactly (what ``GET /v1/quotas`` shows is the requests
answered) and a busy one still claims at most ``log2(100) + limit / 100`` times a window.

Sliding estimate. A fixed window alone lets a client send its whole limit at the end of one
window and again at the start of the next. The ceiling of a window therefore also counts the
previous window, weighted by the part of it still inside the last minute (the usual sliding-
window approximation): ``ceiling = limit - ceil(previous * (1 - elapsed / WINDOW_S))``. It never
rounds in the client's favour, so a burst over a window edge gets no more than the limit either;
a client that keeps its key saturated is served at about the limit (one request less per window).

Refusals carry ``Retry-After``: the time until the ceiling grows by one lease. A process that was
refused does not ask the registry again before that time, so a flood of refused requests costs no
database writes. The local state is touched only from the event loop; claims run in a thread.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopfloor.errors import RateLimited
from shopfloor.registry.store import RateStore

WINDOW_S = 60
LEASE_FRACTION = 100
MAX_LEASE = 100


def lease_size(limit: int) -> int:
    """Tokens a process claims at once: a small fraction of the limit, 1 for small limits."""
    return max(1, min(MAX_LEASE, limit // LEASE_FRACTION))


def window_of(now: float) -> int:
    return int(now // WINDOW_S)


def ceiling(limit: int, previous: int, now: float) -> int:
    """Tokens the current window may hand out in all at ``now``, given the previous window's count."""
    left = 1.0 - (now - window_of(now) * WINDOW_S) / WINDOW_S
    return max(0, limit - math.ceil(min(previous, limit) * left - 1e-9))


def free_at(limit: int, previous: int, used: int, need: int, now: float) -> float:
    """The wall-clock time at which ``need`` more tokens fit under the ceiling."""
    start = window_of(now) * WINDOW_S
    previous = min(previous, limit)
    if used + need <= limit:
        if previous == 0:
            return now
        # limit - ceil(previous * left) >= used + need  <=>  previous * left <= limit - used - need
        left = (limit - used - need) / previous
        return max(now, start + (1.0 - left) * WINDOW_S)
    # Not in this window: the next one starts empty, with this window's count as its previous one.
    left = (limit - need) / max(used, 1)
    return start + WINDOW_S + max(0.0, 1.0 - left) * WINDOW_S


@dataclass(slots=True)
class Lease:
    """One process's view of one bucket: the tokens it holds for ``window`` and what it last saw."""

    bucket: str
    limit: int
    gen: Any
    window: int = -1
    tokens: int = 0
    count: int = 0  # the window's count in the registry, as last seen
    previous: int | None = None  # the previous window's count, read once per window
    granted: int = 0  # the size of this process's last claim in ``window``: the next one doubles it
    blocked_until: float = 0.0  # refused until then: no claim before

    def resize(self, limit: int, gen: Any) -> None:
        if limit < self.limit:
            self.tokens = 0  # a lowered limit: held tokens could pass it
        if limit != self.limit:
            self.blocked_until = 0.0
        self.limit, self.gen = limit, gen


@dataclass(slots=True)
class Claim:
    """What a claim round learned about one lease (applied on the event loop)."""

    lease: Lease
    window: int
    granted: int
    count: int
    previous: int
    retry_at: float


class SharedRates:
    """The process's leases, claimed from the registry's shared counters."""

    def __init__(self, store: RateStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self.leases: dict[str, Lease] = {}
        self._pruned = -1

    def lease(self, bucket: str, limit: int, gen: Any) -> Lease:
        found = self.leases.get(bucket)
        if found is None:
            found = self.leases[bucket] = Lease(bucket, limit, gen)
        elif found.gen != gen:
            found.resize(limit, gen)
        return found

    def take(self, leases: tuple[Lease, ...]) -> list[Lease] | None:
        """Take one token from every lease and return None; or, taking none, return the leases that
        need a claim. Raises :class:`RateLimited` when one of them was refused and is still waiting."""
        now = self._clock()
        window = window_of(now)
        short = [x for x in leases if x.window != window or x.tokens <= 0]
        if not short:
            for x in leases:
                x.tokens -= 1
            return None
        for x in short:
            if x.blocked_until > now:
                raise _refused(x, x.blocked_until - now)
        return short

    def claim(self, short: list[Lease]) -> list[Claim]:
        """Claim a lease for each of ``short`` from the registry (blocking: run it in a thread)."""
        now = self._clock()
        window = window_of(now)
        if self._pruned != window:
            self._store.prune_rate_windows(window - 1)  # the previous window still counts
            self._pruned = window
        stale = [x.bucket for x in short if x.window != window or x.previous is None]
        previous = self._store.rate_counts(stale, window - 1) if stale else {}
        planned = []
        for x in short:
            prev = previous.get(x.bucket, 0) if x.bucket in stale else (x.previous or 0)
            used = x.count if x.window == window else 0
            top = ceiling(x.limit, prev, now)
            # The first claim of a window is one token, each next one twice the last.
            want = max(1, min(lease_size(x.limit), 2 * x.granted if x.window == window else 1))
            planned.append((x, prev, top, want, max(1, min(want, top - used))))
        # One transaction for all (a key and its tenant): one commit per claim round.
        counts = self._store.claim_rates([(x.bucket, window, n, top) for x, _, top, _, n in planned])
        out = []
        for (x, prev, top, want, n), count in zip(planned, counts, strict=True):
            if count is None and n > 1:
                n = 1
                count = self._store.claim_rate(x.bucket, window, n, top)
            if count is not None:
                out.append(Claim(x, window, n, count, prev, 0.0))
                continue
            used = self._store.rate_counts([x.bucket], window).get(x.bucket, 0)
            out.append(Claim(x, window, 0, used, prev, free_at(x.limit, prev, used, want, now)))
        return out

    async def admit(self, leases: tuple[Lease, ...]) -> None:
        """Take a token from every lease, claiming from the registry when one is short."""
        for _ in range(2):  # a second round only if a window ended during the first claim
            short = self.take(leases)
            if short is None:
                return
            for c in await asyncio.to_thread(self.claim, short):
                x = c.lease
                if x.window != c.window:
                    x.window, x.tokens, x.count, x.granted = c.window, 0, 0, 0
                x.tokens += c.granted
                x.granted = max(x.granted, c.granted)
                x.count, x.previous = max(x.count, c.count), c.previous
                if not c.granted:
                    x.blocked_until = c.retry_at
        if self.take(leases) is None:
            return
        refused = min(leases, key=lambda x: (x.tokens > 0, -x.blocked_until))
        raise _refused(refused, max(0.0, refused.blocked_until - self._clock()))


def _refused(lease: Lease, wait_s: float) -> RateLimited:
    kind, _, name = lease.bucket.partition(":")
    who = f"API key {name}" if kind == "key" else f"tenant {name!r}"
    return RateLimited(
        f"{who} is over its {lease.limit} requests per minute", retry_after=max(1, math.ceil(wait_s))
    )

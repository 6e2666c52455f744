"""The stream states this process last wrote, kept to spare the next call's registry read.

An entry is the sealed state (the bytes of the registry row, encrypted with the tenant's key) that
this process wrote for one asset of one model version. The registry stays the truth: a call that
continues from an entry writes its new state only where the row still holds exactly the entry's
bytes (``StreamStore.swap_stream_states``), so a stream moved on by another process or host, reset
or trimmed is read again rather than continued from here. Bounded by bytes; the least recently
used entries go first.

A stream whose calls alternate between processes (a load balancer that spreads one client's
requests over servers) would make every such attempt fail after scoring for nothing; after a
failed attempt a stream's next calls go straight to the registry, and the attempts resume after
1, 2, 4 ... up to :data:`MAX_BACKOFF` calls, at once after one that succeeds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

Key = tuple[str, str, int, str]  # tenant, model, version, asset

#: The most calls a stream goes to the registry between two attempts from a kept state.
MAX_BACKOFF = 64
#: Streams whose attempts are backed off, at most (beyond it the oldest are forgotten).
MAX_BACKED_OFF = 10_000


class StreamStateCache:
    """``{(tenant, model, version, asset): sealed state}`` within ``max_bytes`` (0: keeps nothing)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, bytes] = OrderedDict()
        self._bytes = 0
        self._backoff: OrderedDict[Key, tuple[int, int]] = OrderedDict()  # key -> (calls left, length)
        self._lock = threading.Lock()

    def take(self, tenant: str, model: str, version: int, assets: Iterable[str]) -> dict[str, bytes] | None:
        """The entries of every one of ``assets``, removed from the cache (a call that completes puts
        its new states back); None, removing nothing, unless all are here and none is backed off."""
        keys = [(tenant, model, version, a) for a in assets]
        with self._lock:
            if not keys or any(k not in self._entries or self._waiting(k) for k in keys):
                return None
            found = {k[3]: self._entries.pop(k) for k in keys}
            self._bytes -= sum(len(b) for b in found.values())
        return found

    def put(
        self, tenant: str, model: str, version: int, states: Mapping[str, bytes], *, swapped: bool
    ) -> None:
        """Keep ``states``, just written to the registry: by a swap from kept states (``swapped``: the
        streams' backoff ends) or by the registry's locking transaction (a call of their backoff)."""
        with self._lock:
            for asset, blob in states.items():
                key = (tenant, model, version, asset)
                if swapped:
                    self._backoff.pop(key, None)
                elif self._waiting(key):  # one call less to wait (the length stays, should it fail again)
                    left, length = self._backoff[key]
                    self._backoff[key] = (left - 1, length)
                if not self.max_bytes:
                    continue
                old = self._entries.pop(key, None)
                self._bytes += len(blob) - (len(old) if old is not None else 0)
                self._entries[key] = blob
            while self._bytes > self.max_bytes and self._entries:
                self._bytes -= len(self._entries.popitem(last=False)[1])

    def stale(self, tenant: str, model: str, version: int, assets: Iterable[str]) -> None:
        """The registry held other states for ``assets`` than those kept: back their attempts off."""
        with self._lock:
            for asset in assets:
                key = (tenant, model, version, asset)
                _, length = self._backoff.pop(key, (0, 0))
                length = min(max(2 * length, 1), MAX_BACKOFF)
                self._backoff[key] = (length, length)
            while len(self._backoff) > MAX_BACKED_OFF:
                self._backoff.popitem(last=False)

    def _waiting(self, key: Key) -> bool:
        return self._backoff.get(key, (0, 0))[0] > 0

    def drop(self, tenant: str, model: str, asset: str | None = None) -> None:
        """Forget the entries of ``asset`` (every asset if None) of every version of ``model``."""
        with self._lock:
            for key in [k for k in self._entries if k[:2] == (tenant, model) and asset in (None, k[3])]:
                self._bytes -= len(self._entries.pop(key))

    def __len__(self) -> int:
        return len(self._entries)

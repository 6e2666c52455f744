"""Challengers on the serving path: which version answers a request, and the other side's run off it.

A model may have a challenger (the version behind its ``challenger`` alias) run in one of two modes,
kept in the registry and cached here per tenant until the registry generation moves (as alias
resolutions are, so every server process on every host applies a change within a second):

* ``shadow``: the champion answers every request; the challenger runs on the same records in a
  background thread, and its answer is only recorded;
* ``canary``: a share of the requests, picked by a hash of a key (the caller's canary key, else the
  request id: a retry with the same id lands on the same side), is answered by the challenger; the
  other side then runs in the background, so both answers of every request are recorded.

A request takes part only when it names no version or an alias (the champion is then the version
behind that alias, ``production`` by default); a request for a version number, or for the challenger
itself, is served as asked. With the mode off, deciding costs one cached lookup.

Work off the request path waits in bounded queues, one per thread; a model's work always goes to the
same thread, in order (a stream's points reach its challenger in the order they were scored). When a
queue is full the work is dropped and counted (``shopfloor_challenger_requests_total``), never waited
for: the caller's latency never includes the challenger's.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shopfloor import metrics
from shopfloor.errors import ShopfloorError
from shopfloor.registry.entities import CHALLENGER_ALIAS, ModelVersion
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.registry.store import ChallengerStore
from shopfloor.security.keys import Generation
from shopfloor.settings import Settings
from shopfloor.telemetry.logcontext import current_request_id

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
SERVED, SHADOW = "served", "shadow"
#: The prediction log's sources of the comparison: each side's answer, served to the caller or not.
SOURCES = tuple(f"{side}:{how}" for side in (CHAMPION, CHALLENGER) for how in (SERVED, SHADOW))
#: How long :meth:`Challengers.close` lets queued work finish before dropping the rest.
CLOSE_WAIT_S = 5.0
#: A failing challenger is logged at most once per model per this many seconds (it fails per request).
WARN_EVERY_S = 60.0

Work = Callable[[], None]


def source(side: str, served: bool) -> str:
    """The prediction log source of one side's answer."""
    return f"{side}:{SERVED if served else SHADOW}"


def side_of(source_name: str) -> str | None:
    """The side (champion or challenger) a logged source stands for; None for other sources."""
    side, _, how = source_name.partition(":")
    return side if side in (CHAMPION, CHALLENGER) and how in (SERVED, SHADOW) else None


def one_comparison(refs: Sequence[LoggedPrediction]) -> bool:
    """Whether ``refs`` (logged predictions of one request id and index) are the two sides of one
    comparison: a champion's and a challenger's answer, nothing else."""
    sides = sorted(side_of(r.source) or "" for r in refs)
    return sides == [CHALLENGER, CHAMPION]


def share_point(model: str, key: str) -> float:
    """Where ``key`` falls in [0, 1) for ``model``'s canary: uniform, and the same on every host."""
    digest = hashlib.blake2b(f"{model}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class Trial:
    """How one request is served while its model's challenger runs: the versions on each side and
    which side answers the caller (the other runs off the request path)."""

    mode: str
    champion: int
    challenger: int
    served: str

    @property
    def answering(self) -> int:
        return self.challenger if self.served == CHALLENGER else self.champion

    @property
    def shadowed(self) -> tuple[str, int]:
        """The side that runs off the request path, and its version."""
        if self.served == CHALLENGER:
            return CHAMPION, self.champion
        return CHALLENGER, self.challenger


class ModelResolver(Protocol):
    def resolve(self, tenant: str, name: str, version: int | str | None) -> ModelVersion: ...


class ChallengerPlatform(Protocol):
    """What the challengers read of the process's :class:`~shopfloor.context.Platform`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def generation(self) -> Generation: ...

    @property
    def store(self) -> ChallengerStore: ...

    @property
    def models(self) -> ModelResolver: ...


class Challengers:
    """This process's cache of challenger modes, its decision per request, and its shadow queues."""

    def __init__(self, platform: ChallengerPlatform) -> None:
        self._platform = platform
        self._modes: dict[str, dict[str, tuple[str, float]]] = {}
        self._generation: tuple[int, int] | None = None
        settings = platform.settings
        self.queue = ShadowQueue(settings.challenger_queue, settings.challenger_threads)

    def mode(self, tenant: str, model: str) -> tuple[str, float] | None:
        """``(mode, share)`` of ``model``'s challenger, None when off; one registry read per tenant
        each time the generation moves, none otherwise."""
        gen = self._platform.generation.current()
        if gen != self._generation:
            self._modes, self._generation = {}, gen
        modes = self._modes.get(tenant)
        if modes is None:
            try:
                modes = self._platform.store.challenger_modes(tenant)
            except ShopfloorError as exc:  # the registry is away: serve the champion alone
                log.warning("challenger modes of tenant %s unknown, none run: %s", tenant, exc)
                return None
            self._modes[tenant] = modes
        return modes.get(model)

    def trial(self, tenant: str, model: str, version: int | str | None, key: str | None) -> Trial | None:
        """How this request is served if it takes part in a comparison, else None (mode off, a
        version asked by number or the challenger asked for itself, or both sides the same version).
        ``key`` picks the canary's side (default: the request id; a random side without either)."""
        if version is not None and (
            not isinstance(version, str) or version.isdigit() or version == CHALLENGER_ALIAS
        ):
            return None
        found = self.mode(tenant, model)
        if found is None:
            return None
        mode, share = found
        try:
            champion = self._platform.models.resolve(tenant, model, version).version
            challenger = self._platform.models.resolve(tenant, model, CHALLENGER_ALIAS).version
        except ShopfloorError:  # an unknown model or alias: the plain path answers with the error
            return None
        if champion == challenger:
            return None
        if mode == "canary" and share > 0.0:
            picked = share_point(model, key or current_request_id() or secrets.token_hex(8)) < share
        else:
            picked = False
        return Trial(mode, champion, challenger, CHALLENGER if picked else CHAMPION)

    def submit(self, tenant: str, model: str, work: Work) -> bool:
        """Run ``work`` off the request path; False (and counted) when the queue is full."""
        return self.queue.submit(tenant, model, work)

    def close(self) -> None:
        self.queue.close(CLOSE_WAIT_S)


class _Lane:
    """One thread and its bounded queue."""

    def __init__(self, capacity: int, index: int) -> None:
        self.capacity = capacity
        self.index = index
        self.items: deque[tuple[str, str, Work]] = deque()
        self.busy = False
        self.closed = False
        self.changed = threading.Condition()
        self.thread: threading.Thread | None = None


class ShadowQueue:
    """Work run off the request path by ``threads`` threads, each with a queue of at most
    ``capacity / threads`` items; a model's work always goes to the same thread."""

    def __init__(self, capacity: int, threads: int) -> None:
        per = max(1, capacity // max(1, threads))
        self._lanes = [_Lane(per, i) for i in range(max(1, threads))]
        self._warned: dict[tuple[str, str], float] = {}
        self.dropped = 0

    def submit(self, tenant: str, model: str, work: Work) -> bool:
        lane = self._lanes[hash((tenant, model)) % len(self._lanes)]
        with lane.changed:
            if lane.closed or len(lane.items) >= lane.capacity:
                self.dropped += 1
                full = True
            else:
                lane.items.append((tenant, model, work))
                lane.changed.notify()
                full = False
        if full:
            metrics.RECORDER.challenger_run(tenant, model, "dropped")
            return False
        if lane.thread is None:
            self._start(lane)
        return True

    def _start(self, lane: _Lane) -> None:
        with lane.changed:
            if lane.thread is None and not lane.closed:
                name = f"challenger-{lane.index}"
                lane.thread = threading.Thread(target=self._run, args=(lane,), name=name, daemon=True)
                lane.thread.start()

    def _run(self, lane: _Lane) -> None:
        while True:
            with lane.changed:
                while not lane.items and not lane.closed:
                    lane.changed.wait()
                if not lane.items:
                    return
                tenant, model, work = lane.items.popleft()
                lane.busy = True
            outcome = "run"
            try:
                work()
            except Exception as exc:  # the thread outlives any one failing challenger
                outcome = "failed"
                self._warn(tenant, model, exc)
            metrics.RECORDER.challenger_run(tenant, model, outcome)
            with lane.changed:
                lane.busy = False
                lane.changed.notify_all()

    def _warn(self, tenant: str, model: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned.get((tenant, model), -WARN_EVERY_S) < WARN_EVERY_S:
            return
        self._warned[(tenant, model)] = now
        if isinstance(exc, ShopfloorError):
            log.warning("challenger of model %s (tenant %s) failed: %s", model, tenant, exc.detail)
        else:
            log.error("challenger of model %s (tenant %s) failed", model, tenant, exc_info=exc)

    def pending(self) -> int:
        """Work waiting or running now."""
        return sum(len(lane.items) + lane.busy for lane in self._lanes)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queue is empty and no work runs; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        for lane in self._lanes:
            with lane.changed:
                while lane.items or lane.busy:
                    left = deadline - time.monotonic()
                    if left <= 0 or lane.thread is None:
                        return False
                    lane.changed.wait(left)
        return True

    def close(self, wait_s: float) -> None:
        """Let queued work finish for up to ``wait_s`` seconds, then drop (and count) the rest."""
        self.wait_idle(wait_s)
        for lane in self._lanes:
            with lane.changed:
                lane.closed = True
                left = list(lane.items)
                lane.items.clear()
                lane.changed.notify_all()
            for tenant, model, _ in left:
                self.dropped += 1
                metrics.RECORDER.challenger_run(tenant, model, "dropped")
            if lane.thread is not None:
                lane.thread.join(timeout=wait_s)

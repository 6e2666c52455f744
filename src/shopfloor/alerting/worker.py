"""The background task of an API process: evaluate due rules, send due webhooks, forget old ones.

Every API process of every host runs it (the registry decides who does each piece of work, see
:mod:`shopfloor.alerting.evaluator` and :mod:`shopfloor.alerting.delivery`); the blocking work
runs on a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime, timedelta

from shopfloor.alerting.delivery import Deliverer
from shopfloor.alerting.evaluator import Evaluator
from shopfloor.alerting.signals import SignalRegistry
from shopfloor.context import Platform

log = logging.getLogger(__name__)

#: How often old deliveries are deleted (by each process; deleting nothing costs one statement).
PRUNE_EVERY_S = 3600.0
#: Deliveries claimed at once, and most batches per round.
BATCH, BATCHES = 20, 10


class AlertWorker:
    """One process's round of alert work; :meth:`run` repeats it until cancelled."""

    def __init__(self, platform: Platform, signals: SignalRegistry) -> None:
        self.platform = platform
        self.evaluator = Evaluator(platform, signals)
        self.deliverer = Deliverer(platform)
        self._pruned = 0.0

    @property
    def tick_s(self) -> float | None:
        """Seconds between rounds, or None when this process has nothing to do."""
        settings = self.platform.settings
        wanted = [s for s in (settings.alert_delivery_poll_s, settings.alert_eval_interval_s) if s > 0]
        return min(wanted) if wanted else None

    def round(self, now: datetime | None = None) -> None:
        """Evaluate the due rules, then send the due webhooks (those just queued included)."""
        now = now or datetime.now(UTC)
        settings = self.platform.settings
        if settings.alert_eval_interval_s > 0:
            self.evaluator.evaluate_due(now)
        if settings.alert_delivery_poll_s > 0:
            for _ in range(BATCHES):  # another batch only after a full one: more may be waiting
                if self.deliverer.deliver_due(limit=BATCH) < BATCH:
                    break
        if time.monotonic() - self._pruned >= PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            keep = timedelta(days=settings.alert_delivery_retention_days)
            self.platform.store.prune_alert_deliveries(now - keep)

    async def run(self) -> None:
        """Rounds every :attr:`tick_s` seconds (the first after a random part of one, so that
        processes started together spread out) until the task is cancelled."""
        tick = self.tick_s
        if tick is None:
            return
        await asyncio.sleep(random.uniform(0, tick))  # noqa: S311 - spreading, not a secret
        while True:
            try:
                await asyncio.to_thread(self.round)
            except Exception:  # an unavailable registry must not end the task; the next round retries
                log.exception("alert round failed")
            await asyncio.sleep(tick)

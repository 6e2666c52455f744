"""The prediction log of one process: served predictions sampled per model, buffered, written in batches.

The serving path only decides and appends: :meth:`PredictionLog.add` looks the model's sampling
rate up (cached until the registry generation moves), draws which answers to keep, and appends a
reference to the call's records and answers to an in-memory buffer. A background thread writes the
buffer about once a second (or sooner when it fills up): it masks the text inputs, groups the
entries by model version, seals each group as one blob with the tenant's key and stores the blobs
and their index rows in one registry transaction (``executemany``).

The buffer is bounded (``SHOPFLOOR_PREDICTION_LOG_BUFFER`` entries): when it is full, new entries
are dropped and counted (``shopfloor_prediction_log_records_total{outcome="dropped"}``), serving is
never held up. A batch the registry refuses is retried once with the next write, then dropped and
counted as ``failed``. :meth:`close` writes what is left (the API's shutdown, a job's end).
"""

from __future__ import annotations

import logging
import math
import random
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shopfloor import metrics
from shopfloor.errors import ShopfloorError
from shopfloor.registry.log_entities import LogBatch, LogBlob
from shopfloor.registry.store import GenerationStore, MaskingStore, PredictionLogStore
from shopfloor.security.keys import Generation
from shopfloor.serving.log_entries import Inputs, Masker, blob_path, bounded, encode_entries, masker, seal
from shopfloor.settings import Settings
from shopfloor.storage.sealed import SealedArtifacts

log = logging.getLogger(__name__)

#: Entries sealed together at most (a larger group of one model version is split).
BLOB_ENTRIES = 1000
#: Seconds before rates that could not be read are asked for again.
RATES_RETRY_S = 5.0


class LogStore(PredictionLogStore, MaskingStore, GenerationStore, Protocol):
    """The registry as the log uses it: rates, the log itself, the masking policy."""


class LogPlatform(Protocol):
    """What the log reads of the process's :class:`~shopfloor.context.Platform` (built above it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def generation(self) -> Generation: ...

    @property
    def store(self) -> LogStore: ...

    @property
    def sealed(self) -> SealedArtifacts: ...


@dataclass(slots=True, eq=False)
class _Call:
    """One served call whose answers (some or all: ``picked``) are to be logged."""

    tenant: str
    model: str
    version: int
    source: str
    request_id: str | None
    at: float
    latency_s: float
    schema: Sequence[Mapping[str, Any]]
    records: Sequence[Any]
    answers: Sequence[Mapping[str, Any] | None]  # (None,): a failed call
    picked: Sequence[int]
    positions: Sequence[int] | None
    error: Mapping[str, Any] | None = None  # a failed call: what went wrong (no answer)
    retried: bool = False



class PredictionLog:
    """The process's buffer of predictions to log, and the thread that writes it."""

    def __init__(self, platform: LogPlatform) -> None:
        self._platform = platform
        settings = platform.settings
        self.capacity = settings.prediction_log_buffer
        self.every_s = settings.prediction_log_flush_s
        self.max_entry_bytes = settings.prediction_log_max_record_kb * 1024
        self._calls: list[_Call] = []
        self._pending = 0
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one write at a time: the thread's, a job's, the last one
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._rates: dict[str, dict[str, float]] = {}
        self._unknown: dict[str, float] = {}  # tenant -> when to ask the registry again for its rates
        self._generation: tuple[int, int] | None = None
        self.dropped = 0

    # ---- the serving path ------------------------------------------------------------------------
    def rate(self, tenant: str, model: str) -> float:
        """The share of ``model``'s answers logged (0 when none is set); one registry read per tenant
        each time the generation moves, none otherwise."""
        gen = self._platform.generation.current()
        if gen != self._generation:
            self._rates, self._generation = {}, gen
        rates = self._rates.get(tenant)
        if rates is None or (self._unknown and self._unknown.get(tenant, math.inf) <= time.monotonic()):
            rates = self._read_rates(tenant)
        return rates.get(model, 0.0)

    def _read_rates(self, tenant: str) -> dict[str, float]:
        try:
            rates = self._platform.store.log_rates(tenant)
        except ShopfloorError as exc:
            # The registry is away: nothing is logged, serving goes on, and the registry is asked
            # again only after a while (not once per request, each waiting for its timeout).
            log.warning("prediction log rates of tenant %s unknown, nothing logged yet: %s", tenant, exc)
            self._unknown[tenant] = time.monotonic() + RATES_RETRY_S
            rates = {}
        else:
            self._unknown.pop(tenant, None)
        self._rates[tenant] = rates
        return rates

    def sample(self, tenant: str, model: str, n: int, *, whole: bool = False) -> Sequence[int]:
        """Which of ``n`` answers of ``model`` to log, drawn at its rate; ``whole``: all or none (the
        answers of one call that answers per asset or stream)."""
        rate = self.rate(tenant, model) if n else 0.0
        if rate <= 0.0:
            return ()
        if rate >= 1.0:
            return range(n)
        if whole:
            return range(n) if random.random() < rate else ()  # noqa: S311 - sampling, not security
        return [i for i in range(n) if random.random() < rate]  # noqa: S311

    def add(
        self,
        tenant: str,
        model: str,
        version: int,
        source: str,
        *,
        schema: Sequence[Mapping[str, Any]],
        records: Sequence[Any],
        answers: Sequence[Mapping[str, Any]],
        latency_s: float,
        request_id: str | None,
        picked: Sequence[int] | None = None,
        positions: Sequence[int] | None = None,
    ) -> int:
        """Keep the answers of one call that its model's rate samples (or those ``picked`` by a caller
        that sampled already); returns how many were kept. ``positions``: each answer's index in its
        request (default: its index in ``answers``).

        Answers and records are kept by reference (neither is changed after serving): the copy,
        masking and sealing happen in the writing thread.
        """
        if picked is None:
            picked = self.sample(tenant, model, len(answers), whole=len(records) != len(answers))
        if not picked:
            return 0
        call = _Call(
            tenant, model, version, source, request_id, time.time(), latency_s, schema, records, answers,
            picked, positions,
        )
        return self._append(call)

    def add_failure(
        self,
        tenant: str,
        model: str,
        version: int,
        source: str,
        *,
        schema: Sequence[Mapping[str, Any]],
        records: Sequence[Any],
        latency_s: float,
        request_id: str | None,
        error: Mapping[str, Any],
        always: bool = False,
    ) -> bool:
        """Keep a call that failed once its records had passed the model's input schema: one entry
        with the call's inputs and ``error`` (``status``, ``code``), no answer. It is drawn with the
        chance that a call of as many records has an answer logged at the model's rate, so failed
        and answered calls are sampled alike and the share of failed calls among those logged
        estimates the model's error rate; ``always``: kept whatever the rate (a call whose answers
        are all logged, as a challenger's trial logs them). Returns whether it was kept."""
        rate = 1.0 if always else self.rate(tenant, model)
        chance = 1.0 - (1.0 - rate) ** max(len(records), 1)
        if rate <= 0.0 or (rate < 1.0 and random.random() >= chance):  # noqa: S311 - sampling
            return False
        call = _Call(
            tenant, model, version, source, request_id, time.time(), latency_s, schema, records, (None,),
            (0,), None, error,
        )
        return self._append(call) > 0

    def _append(self, call: _Call) -> int:
        """Buffer ``call`` (or drop and count it when the buffer is full); returns the entries kept."""
        kept, wake = len(call.picked), False
        with self._lock:
            if self._closed or self._pending + kept > self.capacity:
                self.dropped += kept
                full = True
            else:
                self._calls.append(call)
                self._pending += kept
                full = False
                wake = self._pending >= self.capacity // 4
        if full:
            metrics.RECORDER.prediction_log(call.tenant, call.model, "dropped", kept)
            return 0
        if self._thread is None:
            self._start()
        if wake:
            self._wake.set()
        return kept

    # ---- writing ---------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.every_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the thread must outlive any one bad batch
                log.exception("could not write the prediction log")

    def pending(self) -> int:
        """Entries waiting to be written."""
        return self._pending

    def flush(self) -> int:
        """Write every buffered entry now; returns how many were written."""
        with self._writing:
            with self._lock:
                calls, self._calls, self._pending = self._calls, [], 0
            if not calls:
                return 0
            written = 0
            for group in _by_tenant(calls):
                written += self._write_tenant(group)
            return written

    def _write_tenant(self, calls: list[_Call]) -> int:
        tenant = calls[0].tenant
        try:
            batches = self._sealed(tenant, calls)
            self._platform.store.add_prediction_log(batches)
        except ShopfloorError as exc:
            self._retry_or_drop(calls, exc)
            return 0
        for (model, _), n in _counts(calls).items():
            metrics.RECORDER.prediction_log(tenant, model, "written", n)
        return sum(b.blob.records for b in batches)

    def _retry_or_drop(self, calls: list[_Call], exc: ShopfloorError) -> None:
        again = [c for c in calls if not c.retried]
        lost = [c for c in calls if c.retried]
        for c in again:
            c.retried = True
        with self._lock:
            room = self.capacity - self._pending
            kept = sum(len(c.picked) for c in again)
            if kept <= room and not self._closed:
                self._calls[:0] = again
                self._pending += kept
            else:
                lost += again
        if lost:
            log.warning("prediction log: %d entries of tenant %s not written: %s",
                        sum(len(c.picked) for c in lost), calls[0].tenant, exc.detail)
            for (model, _), n in _counts(lost).items():
                metrics.RECORDER.prediction_log(calls[0].tenant, model, "failed", n)

    def _sealed(self, tenant: str, calls: list[_Call]) -> list[LogBatch]:
        """The tenant's entries masked, grouped by model version and sealed, with their index."""
        mask = masker(self._platform, tenant)
        plans: dict[int, Inputs] = {}  # per schema object: the calls of one model version share theirs
        key = self._platform.sealed.tenant_key(tenant)
        groups: dict[tuple[str, int], list[tuple[_Call, int]]] = {}
        for c in calls:
            groups.setdefault((c.model, c.version), []).extend((c, i) for i in c.picked)
        batches: list[LogBatch] = []
        for (model, version), entries in groups.items():
            for start in range(0, len(entries), BLOB_ENTRIES):
                part = entries[start : start + BLOB_ENTRIES]
                batches.append(self._batch(tenant, model, version, part, key, mask, plans))
        return batches

    def _batch(
        self,
        tenant: str,
        model: str,
        version: int,
        part: list[tuple[_Call, int]],
        key: bytes,
        mask: Masker,
        plans: dict[int, Inputs],
    ) -> LogBatch:
        docs: list[Mapping[str, Any]] = []
        request_ids: list[str | None] = []
        positions: list[int] = []
        sources: list[str] = []
        times: list[datetime] = []
        latencies: list[float | None] = []
        failed: list[bool] = []
        limit = self.max_entry_bytes
        c: _Call | None = None
        for call, i in part:  # a call's answers are consecutive
            if call is not c:
                c = call
                when, latency, first, error = _time(c.at), round(c.latency_s * 1000, 3), c.picked[0], c.error
                plan = plans.get(id(c.schema)) or plans.setdefault(id(c.schema), Inputs(c.schema, mask))
                per_record = len(c.records) == len(c.answers) and error is None
                shared = None if per_record else [plan(r) for r in c.records]
            if per_record:
                doc = {"inputs": plan(c.records[i]), "answer": c.answers[i], "latency_ms": latency}
                # only text can take an entry over the limit
                docs.append(bounded(doc, limit) if plan.chars * 2 > limit else doc)
            else:
                doc = {"inputs": shared, "answer": c.answers[i], "latency_ms": latency}
                if error is not None:
                    doc["error"] = dict(error)
                docs.append(bounded(doc, limit))
            request_ids.append(c.request_id)
            positions.append(c.positions[i] if c.positions is not None else i)
            sources.append(c.source)
            times.append(when)
            # the call's latency in the clear index on its first logged answer only: one row per
            # call carries it, so counting those rows counts calls
            latencies.append(latency if i == first else None)
            failed.append(error is not None)
        blob_id = secrets.token_hex(12)
        document = encode_entries(docs)
        payload = seal(key, blob_path(tenant, model, version, blob_id), document)
        blob = LogBlob(blob_id, tenant, model, version, min(times), max(times), len(part), payload)
        return LogBatch(blob, request_ids, positions, sources, times, latencies, failed)

    def close(self) -> None:
        """Stop taking entries, stop the thread and write what is left."""
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.flush()
        except Exception:
            log.exception("could not write the prediction log at shutdown")


def _by_tenant(calls: list[_Call]) -> list[list[_Call]]:
    groups: dict[str, list[_Call]] = {}
    for c in calls:
        groups.setdefault(c.tenant, []).append(c)
    return list(groups.values())


def _counts(calls: list[_Call]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for c in calls:
        out[(c.model, c.version)] = out.get((c.model, c.version), 0) + len(c.picked)
    return out


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)

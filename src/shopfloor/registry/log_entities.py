"""Frozen entities of the prediction log: sealed batches, the logged predictions, their feedback."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

#: A record id: the id of the batch the prediction was sealed in and its slot there.
_RECORD_ID = re.compile(r"([0-9a-f]{8,32})-([0-9]{1,6})")


@dataclass(frozen=True)
class LogBlob:
    """Logged predictions of one model version, sealed together (``payload``: the sealed entries)."""

    id: str
    tenant: str
    model: str
    version: int
    first_at: datetime
    last_at: datetime
    records: int
    payload: bytes


@dataclass(frozen=True)
class LoggedPrediction:
    """One logged prediction as the registry holds it in clear: where its sealed entry is, its ids
    (request id, its index within the request), the version that answered, the source and time.

    ``latency_ms``: the latency of the call, on the first logged answer of each call only (None on
    its other answers, and on entries logged before it was kept): the rows that carry it count the
    calls. ``failed``: the entry of a call that failed once its records had passed the model's
    input schema; it holds the call's inputs and the error, no answer.
    """

    blob_id: str
    slot: int
    tenant: str
    model: str
    version: int
    request_id: str | None
    position: int
    source: str
    at: datetime
    latency_ms: float | None = None
    failed: bool = False

    @property
    def record_id(self) -> str:
        return record_id(self.blob_id, self.slot)

    @property
    def key(self) -> tuple[str, int]:
        return (self.blob_id, self.slot)


@dataclass(frozen=True)
class LogBatch:
    """A sealed batch to store, with the clear index of each of its slots (in slot order): the id of
    the request, the index within it, the source and the time of the prediction in that slot; the
    call's latency on the first logged answer of each call (None on the others), and whether the
    slot holds a failed call. Empty ``latencies`` or ``failed``: None and False for every slot."""

    blob: LogBlob
    request_ids: Sequence[str | None]
    positions: Sequence[int]
    sources: Sequence[str]
    times: Sequence[datetime]
    latencies: Sequence[float | None] = ()
    failed: Sequence[bool] = ()

    def outcomes(self) -> list[tuple[float | None, bool]]:
        """``(latency_ms, failed)`` of each slot, in slot order."""
        n = len(self.times)
        return list(zip(self.latencies or [None] * n, self.failed or [False] * n, strict=True))


@dataclass(frozen=True)
class Feedback:
    """The true outcome of one logged prediction (``outcome`` sealed), the latest one received."""

    blob_id: str
    slot: int
    tenant: str
    model: str
    version: int
    outcome: bytes
    received_at: datetime


@dataclass(frozen=True)
class CallOutcomes:
    """The calls a model version answered in a window (those logged): how many, how many failed,
    and the 99th percentile of their latency (None without calls)."""

    calls: int
    failed: int
    latency_p99_ms: float | None


@dataclass(frozen=True)
class LogCount:
    """What a window of a version's log holds: predictions (failures apart), how many have an
    outcome, and when the newest of those outcomes was received (None without any)."""

    predictions: int
    outcomes: int
    last_outcome_at: datetime | None


def record_id(blob_id: str, slot: int) -> str:
    """The public id of the prediction in ``slot`` of batch ``blob_id``."""
    return f"{blob_id}-{slot}"


def parse_record_id(text: str) -> tuple[str, int] | None:
    """``(blob id, slot)`` of a record id, or None when ``text`` cannot be one."""
    found = _RECORD_ID.fullmatch(text) if isinstance(text, str) else None
    return (found.group(1), int(found.group(2))) if found else None

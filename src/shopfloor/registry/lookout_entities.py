"""Entities of the Lookout for Equipment facade's models, inference schedulers, their executions
and the events those found (see :mod:`shopfloor.registry.sql_lookout_models`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The states of an inference scheduler, as Lookout names them.
SCHEDULER_STATUSES = ("PENDING", "RUNNING", "STOPPING", "STOPPED")
#: The states of one execution.
EXECUTION_STATUSES = ("IN_PROGRESS", "SUCCESS", "FAILED")


@dataclass(frozen=True)
class LookoutModel:
    """A Lookout model: the Shopfloor training job behind it and the request it was made from
    (``config``: dataset schema, time ranges, sampling rate, off condition, labels source).
    The Shopfloor model of the same name holds the trained versions."""

    tenant: str
    name: str
    uid: str
    dataset_name: str
    job_id: str
    config: dict[str, Any] = field(default_factory=dict)
    client_token: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class LookoutScheduler:
    """An inference scheduler of one model: every ``frequency_s`` seconds, ``delay_s`` after each
    window of data ends, it scores the files of the window (``config``: input and output bucket,
    prefix and file naming, role). ``next_data_end`` is the end of the next window to score and
    ``due_at`` when that happens; ``revision`` moves with every claim and change."""

    id: str
    tenant: str
    name: str
    model: str
    status: str
    frequency_s: int
    delay_s: int
    config: dict[str, Any]
    next_data_end: datetime | None
    due_at: datetime | None
    revision: int
    latest_result: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class LookoutExecution:
    """One scheduled run: the data window ``[data_start, data_end)`` it scored, its state, why it
    failed, where it wrote its results and the model version that scored."""

    id: str
    tenant: str
    scheduler_id: str
    scheduled_start: datetime
    data_start: datetime
    data_end: datetime
    status: str
    failed_reason: str | None = None
    result_bucket: str | None = None
    result_key: str | None = None
    model_version: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class LookoutEvent:
    """Consecutive anomalous rows one execution found, with each sensor's share (0..1)."""

    id: str
    tenant: str
    scheduler_id: str
    execution_id: str
    start: datetime
    end: datetime
    diagnostics: list[dict[str, Any]] = field(default_factory=list)

"""The prediction log as a tenant uses it: sampling rates, retention, reading logged predictions back
(export), and the sweep that removes what has outlived its retention.

Logging itself happens on the serving path (:mod:`shopfloor.serving.prediction_log`); this module
reads the sealed batches with the tenant's key and joins the outcomes fed back.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shopfloor.context import Platform
from shopfloor.data.export import neutralise_cell
from shopfloor.errors import InvalidInput
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.serving.log_reading import entries_of, outcomes_of

log = logging.getLogger(__name__)

#: Logged predictions read per registry query while exporting.
PAGE = 2000
#: Columns of an export, in order (CSV header; keys of each JSON line).
EXPORT_COLUMNS = (
    "record_id", "request_id", "index", "model", "version", "source", "at", "latency_ms",
    "inputs", "answer", "outcome", "error",
)


def _rate(rate: float) -> float:
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0.0 <= float(rate) <= 1.0:
        raise InvalidInput(
            f"the sampling rate must be a number from 0 (log nothing) to 1 (log everything), not {rate!r}",
            errors=[{"loc": ["body", "rate"], "msg": "must be between 0 and 1"}],
        )
    return float(rate)


def settings_view(platform: Platform, tenant: str, name: str) -> dict[str, Any]:
    """The model's sampling rate and the tenant's retention in force."""
    platform.store.get_model(tenant, name)  # 404 for an unknown (or another tenant's) model
    return {
        "model": name,
        "rate": platform.store.log_rates(tenant).get(name, 0.0),
        "retention_days": retention_days(platform, tenant),
    }


def set_rate(platform: Platform, tenant: str, name: str, rate: float) -> dict[str, Any]:
    """Log ``rate`` of model ``name``'s predictions from now on (every server within a second)."""
    rate = _rate(rate)
    platform.store.get_model(tenant, name)
    platform.store.set_log_rate(tenant, name, rate)
    platform.generation.bump()  # this process at once; the others at their next read
    return settings_view(platform, tenant, name)


def retention_days(platform: Platform, tenant: str) -> int:
    """Days the tenant's log is kept: its own setting, else the server default."""
    return platform.store.log_retention().get(tenant, platform.settings.prediction_log_retention_days)


def set_retention(platform: Platform, tenant: str, days: int | None) -> dict[str, Any]:
    """Keep the tenant's log ``days`` days (None: back to the server default); the next sweep applies it."""
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650):
        raise InvalidInput(
            f"retention is a whole number of days from 1 to 3650, not {days!r}",
            errors=[{"loc": ["body", "days"], "msg": "must be 1 to 3650 days"}],
        )
    platform.store.ensure_tenant(tenant)
    platform.store.set_log_retention(tenant, days)
    return retention_view(platform, tenant)


def retention_view(platform: Platform, tenant: str) -> dict[str, Any]:
    """The tenant's own retention (None: none set), the server default, and the one in force."""
    own = platform.store.log_retention().get(tenant)
    default = platform.settings.prediction_log_retention_days
    return {"tenant": tenant, "retention_days": own or default, "own": own, "default": default}


# ---- reading back ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportFilter:
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    request_id: str | None = None
    limit: int = 100_000


def export_rows(platform: Platform, tenant: str, name: str, f: ExportFilter) -> Iterator[dict[str, Any]]:
    """Logged predictions of ``name``, oldest first, with their inputs, answer and outcome, read page
    by page (an export never holds the whole log in memory), and the failed calls logged (inputs
    and ``error``, no answer). 404 for an unknown model, at once."""
    platform.store.get_model(tenant, name)
    return _rows(platform, tenant, name, f)


def _rows(platform: Platform, tenant: str, name: str, f: ExportFilter) -> Iterator[dict[str, Any]]:
    left, after = f.limit, None
    while left > 0:
        page = platform.store.list_logged(
            tenant, name, version=f.version, since=f.since, until=f.until, request_id=f.request_id,
            after=after, limit=min(PAGE, left), failed=None,
        )
        yield from rows_of(platform, tenant, page)
        if len(page) < min(PAGE, left):
            return
        left -= len(page)
        last = page[-1]
        after = (last.at, last.blob_id, last.slot)


def rows_of(platform: Platform, tenant: str, refs: Sequence[LoggedPrediction]) -> list[dict[str, Any]]:
    """Logged predictions ``refs`` as an export gives them: inputs (masked), answer, outcome, error."""
    entries, outcomes = entries_of(platform, tenant, refs), outcomes_of(platform, tenant, refs)
    rows = []
    for ref in refs:
        entry = entries.get(ref.key) or {}
        rows.append(
            {
                "record_id": ref.record_id,
                "request_id": ref.request_id,
                "index": ref.position,
                "model": ref.model,
                "version": ref.version,
                "source": ref.source,
                "at": ref.at.isoformat(),
                "latency_ms": entry.get("latency_ms"),
                "inputs": entry.get("inputs"),
                "answer": entry.get("answer"),
                "outcome": outcomes.get(ref.key),
                "error": entry.get("error"),  # a failed call: its status and code, no answer
            }
        )
    return rows


def as_json_lines(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield json.dumps(row, separators=(",", ":"), default=str).encode() + b"\n"


def as_csv(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """CSV with inputs, answer and outcome as JSON text; no cell can start a spreadsheet formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for n, row in enumerate(rows, 1):
        cells = []
        for column in EXPORT_COLUMNS:
            value = row[column]
            if isinstance(value, dict | list):
                value = json.dumps(value, separators=(",", ":"), default=str)
            cells.append(neutralise_cell(value))
        writer.writerow(cells)
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# ---- retention ------------------------------------------------------------------------------------
def sweep(platform: Platform, now: datetime | None = None) -> int:
    """Remove every tenant's logged predictions (and their feedback) older than its retention;
    returns how many went. Several servers may run it at once (see the store's purge)."""
    now = now or datetime.now(UTC)
    own, default = platform.store.log_retention(), platform.settings.prediction_log_retention_days
    removed = 0
    for tenant in platform.store.log_tenants():
        removed += platform.store.purge_prediction_log(tenant, now - timedelta(days=own.get(tenant, default)))
    if removed:
        log.info("removed %d logged predictions past their retention", removed)
    return removed


async def sweep_every(platform: Platform) -> None:
    """The API's lifespan task: sweep every ``prediction_log_sweep_s`` (with a random first delay,
    so servers started together do not sweep in step), off the event loop."""
    every = platform.settings.prediction_log_sweep_s
    await asyncio.sleep(random.uniform(0, every))  # noqa: S311 - spreading load, not security
    while True:
        try:
            await asyncio.to_thread(sweep, platform)
        except Exception:  # an unavailable registry must not end the task; the next round retries
            log.exception("could not sweep the prediction log")
        await asyncio.sleep(every)

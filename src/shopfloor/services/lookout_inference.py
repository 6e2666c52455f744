"""Running Lookout for Equipment inference schedulers: each due window scored once, on one host.

Every API process runs :func:`watch`: every ``SHOPFLOOR_LOOKOUT_SCHEDULER_POLL_S`` seconds it asks
the registry for running schedulers whose next window is due, and claims each window with a
conditional update (:meth:`~shopfloor.registry.store.LookoutModelStore.claim_lookout_tick`): on
a cluster exactly one host scores it. A claimed window (an *execution*):

1. lists the input prefix and takes the files named ``<component><delimiter><timestamp>.csv``
   whose timestamp falls in the window ``[end - frequency, end)``;
2. joins the components' readings on their timestamps, resamples them to the model's sampling
   rate and leaves out the rows the model's off condition calls off;
3. scores the rows through the same service as ``POST /v1/models/{name}/predict`` (the model's
   production version, else the version its training made; logged, counted in the metrics);
4. writes one JSON line per row to ``<output prefix><yyyy-mm-dd-HH-MM-SS>/results.jsonl`` (the
   scheduled start): ``timestamp``, ``prediction`` (1: anomalous), ``prediction_reason``,
   ``anomaly_score`` (the model's score ``s`` over its threshold ``t`` as ``s / (s + t)``: above
   0.5 exactly when flagged) and, for anomalous rows, ``diagnostics`` (each sensor's share);
5. records the events (runs of consecutive anomalous rows, as the model merges them) and ends the
   execution SUCCESS, or FAILED with the reason (no input file in the window, a missing sensor,
   an unreadable file, a bucket the tenant's sources do not serve ...).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.lookout import TIME, OffCondition, resample
from shopfloor.data.lookout_ingest import (
    Component,
    ComponentTable,
    component_frame,
    join,
    read_component_file,
)
from shopfloor.errors import InvalidInput, ShopfloorError
from shopfloor.evaluation.event_ranges import iso, ranges_of
from shopfloor.registry.entities import PRODUCTION
from shopfloor.registry.ids import new_id
from shopfloor.registry.lookout_entities import LookoutEvent, LookoutExecution, LookoutScheduler
from shopfloor.services import lookout_training, models, sources
from shopfloor.services.lookout_schedule import MAX_BEHIND, TIMESTAMP_FORMATS, first_window

log = logging.getLogger(__name__)

#: The most bytes of input files one execution reads.
INPUT_BYTES = 64 * 1024 * 1024
#: An execution still in progress after this long lost its host; it is marked failed.
STALE_AFTER = timedelta(hours=1)
#: How often each process looks for such executions (a write; the due windows are only read).
SWEEP_EVERY_S = 900.0
RESULTS = "results.jsonl"


def _file_time(name: str, component: str, naming: dict[str, Any]) -> datetime | None:
    """The timestamp in ``name`` when it is ``<component><delimiter><timestamp>.csv``; else None."""
    head = f"{component}{naming.get('delimiter') or ''}"
    if not name.startswith(head) or not name.lower().endswith(".csv"):
        return None
    stamp = name[len(head) : -4]
    pattern = TIMESTAMP_FORMATS.get(naming.get("format") or "yyyyMMddHHmmss")
    try:
        if not pattern:
            return datetime.fromtimestamp(int(stamp), UTC)
        local = datetime.strptime(stamp, pattern)  # noqa: DTZ007 - the offset is applied below
    except (ValueError, OverflowError):
        return None
    return (local - _offset(naming.get("utc_offset"))).replace(tzinfo=UTC)


def _offset(text: str | None) -> timedelta:
    """An ``InputTimeZoneOffset`` (``+02:00``): how far local times are ahead of UTC."""
    if not text:
        return timedelta(0)
    return timedelta(hours=int(text[1:3]), minutes=int(text[4:6])) * (-1 if text[0] == "-" else 1)


def window_files(
    keys: list[str],
    prefix: str,
    components: list[str],
    naming: dict[str, Any],
    start: datetime,
    end: datetime,
) -> list[tuple[str, str]]:
    """``(component, key)`` of the files of the window ``[start, end)`` among ``keys``."""
    out = []
    for key in keys:
        name = key[len(prefix) :]
        if "/" in name:
            continue
        for component in sorted(components, key=len, reverse=True):  # the longest name that fits
            at = _file_time(name, component, naming)
            if at is not None:
                if start <= at < end:
                    out.append((component, key))
                break
    return out


@dataclass(frozen=True)
class _Scoring:
    """What a window is scored with: the model's sensors, sampling rate (seconds), off condition,
    and version (its production alias where one is set, else the version its training made)."""

    sensors: list[str]
    components: list[Component]
    sampling_s: int | None
    off: OffCondition | None
    version: int


def _scoring(platform: Platform, tenant: str, model: str) -> _Scoring:
    found = lookout_training.describe(platform, tenant, model)
    if found.status != "SUCCESS" or found.version is None:
        raise InvalidInput(f"model {model!r} is {found.status}, not trained")
    p = found.job.params
    version = platform.store.get_model(tenant, model).aliases.get(PRODUCTION, found.version.version)
    off = OffCondition(**p["off"]) if p.get("off") else None
    parts = [Component(c["name"], c["time_column"], tuple(c["sensors"])) for c in p["components"]]
    return _Scoring(list(p["sensors"]), parts, p.get("sampling_s"), off, version)


def _rows(
    platform: Platform, scheduler: LookoutScheduler, execution: LookoutExecution, scoring: _Scoring
) -> pd.DataFrame:
    """The window's readings (each file read as the dataset's schema says; the later file's reading
    of a repeated timestamp kept), resampled, without off rows."""
    tenant, cfg = scheduler.tenant, scheduler.config
    sensors, sampling_s, off = scoring.sensors, scoring.sampling_s, scoring.off
    tables = {c.name: ComponentTable(c) for c in scoring.components}
    components = sorted(tables)
    bucket, prefix = cfg["input"]["bucket"], cfg["input"]["prefix"] or ""
    keys = [o.key for o in sources.list_objects(platform, tenant, bucket, prefix)]
    chosen = window_files(keys, prefix, components, cfg["naming"], execution.data_start, execution.data_end)
    if not chosen:
        named = f"<component>{cfg['naming'].get('delimiter') or ''}<timestamp>.csv"
        raise InvalidInput(
            f"no input file under s3://{bucket}/{prefix} for {iso(execution.data_start)} to "
            f"{iso(execution.data_end)} (named {named} for components {', '.join(components)})"
        )
    budget = INPUT_BYTES
    for component, key in chosen:
        data = sources.read_object(platform, tenant, bucket, key, max_bytes=budget)
        budget -= len(data)
        reason = read_component_file(tables[component], data, f"s3://{bucket}/{key}")
        if reason is not None:
            raise InvalidInput(reason)
    frame = join([component_frame(t) for t in tables.values()])
    frame[TIME] = frame[TIME] - _offset(cfg["naming"].get("utc_offset"))
    missing = [s for s in sensors if s not in frame.columns]
    if missing:
        more = f" ({len(missing) - 10} more)" if len(missing) > 10 else ""
        raise InvalidInput(f"the input files have no column for sensor(s) {', '.join(missing[:10])}{more}")
    frame = resample(frame[[TIME, *sensors]], sampling_s)
    if off is not None:
        frame = frame.loc[~off.off_rows(frame)]
    return frame.reset_index(drop=True)


def _records(frame: pd.DataFrame, sensors: list[str], asset: str) -> list[dict[str, Any]]:
    out = []
    for row in frame.itertuples(index=False):
        record: dict[str, Any] = {"segment": asset, TIME: row[0].isoformat()}
        for name, value in zip(sensors, row[1:], strict=True):
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            record[name] = None if missing else float(value)
        out.append(record)
    return out


def _line(point: dict[str, Any], threshold: float) -> dict[str, Any]:
    score = max(float(point["score"]), 0.0)
    flagged = bool(point["flagged"])
    line: dict[str, Any] = {
        "timestamp": iso(pd.Timestamp(point["time"])),
        "prediction": int(flagged),
        "prediction_reason": "ANOMALY_DETECTED" if flagged else "NO_ANOMALY_DETECTED",
        "anomaly_score": round(score / (score + threshold), 5) if score + threshold > 0 else 0.0,
    }
    if flagged:
        line["diagnostics"] = [
            {"name": name, "value": round(float(v) / 100.0, 5)}
            for name, v in point["contributions"].items()
        ]
    return line


def score_window(platform: Platform, scheduler: LookoutScheduler, execution: LookoutExecution) -> None:
    """Score one claimed window and record how it ended (never raises for the window's own errors)."""
    store = platform.store
    try:
        scoring = _scoring(platform, scheduler.tenant, scheduler.model)
        frame = _rows(platform, scheduler, execution, scoring)
        if frame.empty:
            raise InvalidInput("every row of the window's files is off (the model's off condition holds)")
        limit = max(1, platform.settings.max_records_per_request)
        records = _records(frame, scoring.sensors, scheduler.name)
        answers: list[dict[str, Any]] = []
        version = None
        for begin in range(0, len(records), limit):
            part = records[begin : begin + limit]
            answer = models.predict(platform, scheduler.tenant, scheduler.model, scoring.version, part)
            answers += answer["predictions"]
            version = answer["version"]
        lines = [_line(pt, float(a["threshold"])) for a in answers for pt in a["points"]]
        cfg = scheduler.config["output"]
        key = f"{cfg['prefix'] or ''}{execution.scheduled_start.strftime('%Y-%m-%d-%H-%M-%S')}/{RESULTS}"
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        sources.write_object(platform, scheduler.tenant, cfg["bucket"], key, body, "application/x-ndjson")
        found = [
            LookoutEvent(
                id=new_id("lke"),
                tenant=scheduler.tenant,
                scheduler_id=scheduler.id,
                execution_id=execution.id,
                start=r["start"],
                end=r["end"],
                diagnostics=r["diagnostics"],
            )
            for r in ranges_of(answers)
        ]
        anomalous = any(line["prediction"] for line in lines)
        store.finish_lookout_execution(
            execution.id,
            status="SUCCESS",
            result=(cfg["bucket"], key),
            model_version=version,
            events=found,
            latest_result="ANOMALOUS" if anomalous else "NORMAL",
        )
    except ShopfloorError as exc:
        store.finish_lookout_execution(execution.id, status="FAILED", failed_reason=exc.detail)
    except Exception as exc:  # noqa: BLE001 - an execution must end whatever broke
        log.error("inference scheduler %s crashed:\n%s", scheduler.id, traceback.format_exc())
        store.finish_lookout_execution(
            execution.id, status="FAILED", failed_reason=f"internal error: {type(exc).__name__}"
        )


def claim(platform: Platform, scheduler: LookoutScheduler, now: datetime) -> LookoutExecution | None:
    """Take the scheduler's due window (None when another process took it first). After a long
    pause only the latest :data:`~shopfloor.services.lookout_schedule.MAX_BEHIND` windows are run."""
    freq, delay = timedelta(seconds=scheduler.frequency_s), timedelta(seconds=scheduler.delay_s)
    end = scheduler.next_data_end or first_window(now, scheduler.frequency_s, scheduler.delay_s)
    end = max(end, first_window(now, scheduler.frequency_s, scheduler.delay_s) - (MAX_BEHIND - 1) * freq)
    execution = LookoutExecution(
        id=new_id("lkx"),
        tenant=scheduler.tenant,
        scheduler_id=scheduler.id,
        scheduled_start=end + delay,
        data_start=end - freq,
        data_end=end,
        status="IN_PROGRESS",
    )
    if not platform.store.claim_lookout_tick(scheduler, execution, end + freq, end + freq + delay):
        return None
    return execution


def run_due(platform: Platform, now: datetime | None = None, limit: int = 20) -> list[LookoutExecution]:
    """Run the windows due at ``now`` (default: the clock) that this process claims; the
    executions it ran. Tests pass a later ``now`` to run a schedule's next window at once."""
    now = now or datetime.now(UTC)
    ran = []
    for scheduler in platform.store.due_lookout_schedulers(now, limit):
        execution = claim(platform, scheduler, now)
        if execution is not None:
            score_window(platform, scheduler, execution)
            ran.append(execution)
    return ran


async def watch(platform: Platform) -> None:
    """The API process's scheduler task: run due windows every poll interval until cancelled
    (``SHOPFLOOR_LOOKOUT_SCHEDULER_POLL_S``; 0: this process runs none)."""
    poll = platform.settings.lookout_scheduler_poll_s
    if poll <= 0:
        return
    await asyncio.sleep(random.uniform(0, poll))  # noqa: S311 - spreading processes, not a secret
    swept = 0.0
    while True:
        try:
            if time.monotonic() - swept >= SWEEP_EVERY_S:
                swept = time.monotonic()
                await asyncio.to_thread(sweep, platform)
            await asyncio.to_thread(run_due, platform)
        except Exception:  # an unavailable registry must not end the task; the next round retries
            log.exception("inference scheduler round failed")
        await asyncio.sleep(poll)


def sweep(platform: Platform, now: datetime | None = None) -> int:
    """Mark failed the executions left in progress past :data:`STALE_AFTER` (their host stopped)."""
    before = (now or datetime.now(UTC)) - STALE_AFTER
    return platform.store.fail_stale_lookout_executions(before, "the host running it stopped before it ended")

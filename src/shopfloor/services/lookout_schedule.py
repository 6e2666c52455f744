"""Lookout for Equipment inference schedulers: create, start, stop, describe, list, delete, and
the executions and events they recorded.

A scheduler scores, every ``DataUploadFrequency``, the files its model's components wrote to its
input prefix during the last window, ``DataDelayOffsetInMinutes`` after that window ends
(:mod:`shopfloor.services.lookout_inference` runs the windows). Windows are aligned on the
frequency (a PT5M scheduler scores 10:00-10:05 at 10:05 plus the delay). A scheduler starts
running when it is created, as Lookout's do; starting one scores at once the latest whole window,
then every window after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.registry.ids import new_id
from shopfloor.registry.lookout_entities import LookoutEvent, LookoutExecution, LookoutScheduler
from shopfloor.security.keys import Principal
from shopfloor.services import audit, lookout_training, sources

#: Lookout's upload frequencies, in seconds.
FREQUENCIES = {"PT5M": 300, "PT10M": 600, "PT15M": 900, "PT30M": 1800, "PT1H": 3600}
#: File name timestamp formats Lookout accepts, as strftime patterns (EPOCH: seconds).
TIMESTAMP_FORMATS = {
    "yyyyMMddHHmmss": "%Y%m%d%H%M%S",
    "yyyy-MM-dd-HH-mm-ss": "%Y-%m-%d-%H-%M-%S",
    "EPOCH": "",
}
#: The most windows a scheduler catches up after its server was down; older ones are skipped.
MAX_BEHIND = 12


@dataclass(frozen=True)
class SchedulerSpec:
    """A CreateInferenceScheduler request, parsed (``echo``: what DescribeInferenceScheduler shows
    back as given)."""

    name: str
    model: str
    frequency: str
    delay_minutes: int
    input_bucket: str
    input_prefix: str
    output_bucket: str
    output_prefix: str
    client_token: str
    timestamp_format: str = "yyyyMMddHHmmss"
    delimiter: str = "_"
    utc_offset: str | None = None
    echo: dict[str, Any] = field(default_factory=dict)


def _field(name: str, detail: str) -> InvalidInput:
    return InvalidInput(detail, errors=[{"loc": ["body", name], "msg": detail}])


def first_window(now: datetime, frequency_s: int, delay_s: int) -> datetime:
    """The end of the latest whole window whose run time (end plus delay) has come at ``now``."""
    stamp = int((now - timedelta(seconds=delay_s)).timestamp())
    return datetime.fromtimestamp(stamp - stamp % frequency_s, UTC)


def _check(platform: Platform, tenant: str, spec: SchedulerSpec) -> None:
    if spec.frequency not in FREQUENCIES:
        choices = ", ".join(FREQUENCIES)
        detail = f"DataUploadFrequency must be one of {choices}, not {spec.frequency!r}"
        raise _field("DataUploadFrequency", detail)
    if not 0 <= spec.delay_minutes <= 60:
        raise _field("DataDelayOffsetInMinutes", "DataDelayOffsetInMinutes must be between 0 and 60")
    if spec.timestamp_format not in TIMESTAMP_FORMATS:
        raise _field(
            "DataInputConfiguration",
            f"TimestampFormat must be one of {', '.join(TIMESTAMP_FORMATS)}, not {spec.timestamp_format!r}",
        )
    found = lookout_training.describe(platform, tenant, spec.model)
    if found.status != "SUCCESS":
        raise Conflict(f"model {spec.model!r} is {found.status}; a scheduler needs a trained model")
    # both buckets must be served by the tenant's sources (errors name the bucket)
    sources.list_objects(platform, tenant, spec.input_bucket, spec.input_prefix)
    sources.list_objects(platform, tenant, spec.output_bucket, spec.output_prefix)


def create(platform: Platform, principal: Principal, spec: SchedulerSpec) -> LookoutScheduler:
    """Store the scheduler, running from now (the same client token again answers the one made)."""
    tenant = principal.tenant
    try:
        found = platform.store.get_lookout_scheduler(tenant, spec.name)
    except NotFound:
        found = None
    if found is not None:
        if found.config.get("client_token") == spec.client_token:
            return found
        raise Conflict(f"an inference scheduler named {spec.name!r} already exists")
    _check(platform, tenant, spec)
    frequency_s, delay_s = FREQUENCIES[spec.frequency], spec.delay_minutes * 60
    end = first_window(datetime.now(UTC), frequency_s, delay_s)
    config = {
        "frequency": spec.frequency,
        "input": {"bucket": spec.input_bucket, "prefix": spec.input_prefix},
        "naming": {
            "format": spec.timestamp_format,
            "delimiter": spec.delimiter,
            "utc_offset": spec.utc_offset,
        },
        "output": {"bucket": spec.output_bucket, "prefix": spec.output_prefix},
        "client_token": spec.client_token,
        "echo": spec.echo,
    }
    stored = platform.store.add_lookout_scheduler(
        LookoutScheduler(
            id=new_id("lks"),
            tenant=tenant,
            name=spec.name,
            model=spec.model,
            status="RUNNING",
            frequency_s=frequency_s,
            delay_s=delay_s,
            config=config,
            next_data_end=end,
            due_at=end + timedelta(seconds=delay_s),
            revision=0,
        )
    )
    audit.record(platform, principal, "lookout.scheduler.create", spec.name, model=spec.model)
    return stored


def start(platform: Platform, principal: Principal, name: str) -> LookoutScheduler:
    """Run the scheduler from now (a running one is left as it is)."""
    found = platform.store.get_lookout_scheduler(principal.tenant, name)
    if found.status == "RUNNING":
        return found
    lookout_training.describe(platform, principal.tenant, found.model)  # NotFound once the model is gone
    end = first_window(datetime.now(UTC), found.frequency_s, found.delay_s)
    due = end + timedelta(seconds=found.delay_s)
    started = platform.store.set_lookout_scheduler_state(
        principal.tenant, name, "RUNNING", end, due, only_from=("STOPPED", "STOPPING", "PENDING")
    )
    audit.record(platform, principal, "lookout.scheduler.start", name)
    return started or platform.store.get_lookout_scheduler(principal.tenant, name)


def stop(platform: Platform, principal: Principal, name: str) -> LookoutScheduler:
    """Stop scheduling (a window being scored finishes); Conflict when it is stopped already."""
    stopped = platform.store.set_lookout_scheduler_state(
        principal.tenant, name, "STOPPED", None, None, only_from=("RUNNING", "PENDING")
    )
    if stopped is None:
        raise Conflict(f"inference scheduler {name!r} is already stopped")
    audit.record(platform, principal, "lookout.scheduler.stop", name)
    return stopped


def delete(platform: Platform, principal: Principal, name: str) -> None:
    """Delete a stopped scheduler with its executions and events; Conflict while it runs."""
    found = platform.store.get_lookout_scheduler(principal.tenant, name)
    if found.status != "STOPPED":
        raise Conflict(f"inference scheduler {name!r} is {found.status}; stop it before deleting it")
    platform.store.delete_lookout_scheduler(principal.tenant, name)
    audit.record(platform, principal, "lookout.scheduler.delete", name)


def executions(
    platform: Platform,
    tenant: str,
    name: str,
    *,
    start_after: datetime | None = None,
    end_before: datetime | None = None,
    status: str | None = None,
) -> tuple[LookoutScheduler, list[LookoutExecution]]:
    found = platform.store.get_lookout_scheduler(tenant, name)
    runs = platform.store.list_lookout_executions(
        tenant, found.id, data_start_after=start_after, data_end_before=end_before, status=status
    )
    return found, runs


def events(
    platform: Platform, tenant: str, name: str, start: datetime, end: datetime
) -> tuple[LookoutScheduler, list[LookoutEvent]]:
    if end <= start:
        raise _field("IntervalEndTime", "IntervalEndTime must be after IntervalStartTime")
    found = platform.store.get_lookout_scheduler(tenant, name)
    return found, platform.store.list_lookout_events(tenant, found.id, start, end)

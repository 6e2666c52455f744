"""The one way a job enters the queue, for every job type (train, batch, synthesize, optimize).

* :func:`check_room` is the cheap early refusal a service calls before its expensive checks
  (reading a dataset, receiving an upload): 429 when the tenant has no free job place or no
  storage room for the bytes the request brings.
* :func:`queue` makes the job, with the id and trace context of the request that queues it: the
  storage check again, then the concurrent-jobs quota checked
  and the job inserted in one registry transaction (two concurrent requests cannot both take
  the last place), then the audit event. A refusal stores nothing.
* What a job checks before it writes an output is in :mod:`shopfloor.security.limits`
  (``check_output``, ``storage_limit``): a job that would write past the quota fails with a
  clear error and leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.registry.entities import Job
from shopfloor.registry.ids import new_id
from shopfloor.security.keys import Principal
from shopfloor.security.limits import effective, limiter
from shopfloor.services import audit
from shopfloor.telemetry import tracing
from shopfloor.telemetry.logcontext import current_request_id

#: The audit action of each job type.
ACTIONS = {
    "train": "job.train",
    "batch_predict": "job.batch",
    "synthesize": "job.synthesize",
    "optimize": "job.optimize",
    "retrain": "job.retrain",
    "lookout_train": "job.train",
    "lookout_ingest": "job.lookout_ingest",
}


def check_room(platform: Platform, tenant: str, incoming_bytes: int = 0) -> None:
    """Raise 429 now if the tenant has no free job place, or no room for ``incoming_bytes``."""
    found = limiter(platform)
    found.check_jobs(tenant)
    found.check_storage(tenant, incoming_bytes)


def queue(
    platform: Platform,
    principal: Principal,
    type: str,
    params: dict[str, Any],
    *,
    job_id: str | None = None,
    incoming_bytes: int = 0,
    **detail: Any,
) -> Job:
    """Queue a ``type`` job for the principal's tenant within its quotas, and audit it.

    ``incoming_bytes``: what the request already stored for the job (a batch input); ``detail``
    goes in the audit event. Raises :class:`~shopfloor.errors.RateLimited` (jobs quota) or
    :class:`~shopfloor.errors.StorageQuotaExceeded`; nothing is queued then.
    """
    tenant = principal.tenant
    found = limiter(platform)
    found.check_storage(tenant, incoming_bytes)
    most = effective(platform.settings, found.quotas(tenant))["max_concurrent_jobs"]
    job = platform.store.create_job(
        id=job_id or new_id("job"),
        tenant=tenant,
        type=type,
        params=params,
        max_active=most,
        stored_bytes=incoming_bytes,
        # the request's id and trace follow it into the job's log lines and span
        request_id=current_request_id(),
        trace_context=tracing.carrier(),
    )
    audit.record(platform, principal, ACTIONS[type], job.id, **detail)
    return job


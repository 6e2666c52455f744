"""Running one job's handler to a terminal state: shared by the local runner and the Dask workers."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shopfloor.errors import JobCancelled, ShopfloorError

if TYPE_CHECKING:
    from shopfloor.context import Platform
    from shopfloor.progress import ProgressFn
    from shopfloor.registry.entities import Job

log = logging.getLogger(__name__)

#: Seconds a job gets to honour a cancellation before it is stopped (or, on Dask, marked) anyway.
CANCEL_GRACE_S = 3.0
HOST = socket.gethostname()


def run_job(platform: Platform, job: Job, progress: ProgressFn, finish: Callable[..., Any]) -> str:
    """Run ``job``'s handler and record its end with ``finish(job_id, status, error=, result=)``;
    returns the outcome (succeeded, cancelled or failed). Never raises for the job's own errors."""
    from shopfloor.jobs.handlers import HANDLERS

    try:
        result = HANDLERS[job.type](platform, job, progress)
        finish(job.id, "succeeded", result=result)
        return "succeeded"
    except JobCancelled:
        finish(job.id, "cancelled", error="cancelled on request")
        return "cancelled"
    except ShopfloorError as exc:
        finish(job.id, "failed", error=exc.detail)
    except Exception as exc:  # noqa: BLE001 - a job must end in a terminal state whatever broke
        log.error("job %s crashed:\n%s", job.id, traceback.format_exc())
        finish(job.id, "failed", error=f"internal error: {type(exc).__name__}: {exc}")
    return "failed"

"""The "optimize" job: a prescriptive optimisation with a budget too large to answer in a request."""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.registry.entities import Job
from shopfloor.services.optimizing import answer, prepare
from shopfloor.tasks.base import ProgressFn


def run_optimize(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    """Result: the same answer as ``POST /v1/models/{name}/optimize`` gives for a small budget."""
    p = job.params
    progress(0.0, "loading", "reading the model")
    loaded, problem = prepare(platform, job.tenant, p["model"], int(p["version"]), p["request"])
    return answer(p["model"], loaded, problem, progress)

"""Prescriptive optimisation of a registered tabular model: answered at once for small budgets,
run as an "optimize" job above :data:`SYNC_TRIALS` (the work is in :mod:`shopfloor.optimize`)."""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.optimize import Problem, model_outcome, parse, solve
from shopfloor.registry.entities import Job
from shopfloor.security.keys import Principal
from shopfloor.services.queueing import check_room, queue
from shopfloor.serving.cache import LoadedModel
from shopfloor.tasks import catalog
from shopfloor.tasks.base import ProgressFn, no_progress

#: Requests with at most this many trials are answered in the response; more become a job.
SYNC_TRIALS = 300
#: A synchronous search stops asking for trials after this many seconds (a slow model times 300
#: trials must not hold a thread for minutes); the answer says how many trials it ran.
SYNC_SEARCH_S = 20.0


def runs_now(request: dict[str, Any]) -> bool:
    """Whether the request is answered in the response (else it needs a job)."""
    return int(request.get("trials") or 0) <= SYNC_TRIALS


def prepare(
    platform: Platform, tenant: str, name: str, version: int | str | None, request: dict[str, Any]
) -> tuple[LoadedModel, Problem]:
    """The model and the checked problem. Raises NotFound for an unknown model or version and
    InvalidInput for a model that is not tabular or a request that does not fit its inputs."""
    mv = platform.models.resolve(tenant, name, version)
    if not catalog.capabilities(mv.task).optimise:
        # the families whose models take one row of named inputs and give a class or a value
        raise InvalidInput(
            f"model {name!r} is a {mv.task} model; optimize needs a tabular model "
            f"({', '.join(catalog.tasks_where(lambda c: c.optimise))})",
            errors=[{"loc": ["path", "name"], "msg": f"a {mv.task} model, not a tabular one"}],
        )
    loaded = platform.models.get(tenant, name, mv.version)
    classes, default = _classes(loaded)
    problem = parse(request, mv.input_schema, classes, default)
    _check_fixed(loaded, problem)
    return loaded, problem


def _classes(loaded: LoadedModel) -> tuple[list[str] | None, str | None]:
    """A classifier's class keys and the default one to optimise: the minority class of the
    hold-out set when the report has it, else the last class (the positive one of a binary model)."""
    if catalog.capabilities(loaded.version.task).prediction == "regression":
        return None, None
    keys = [str(c) for c in loaded.estimator.classes_]
    matrix = (loaded.version.report.get("metrics") or {}).get("confusion_matrix")
    if matrix and len(matrix) == len(keys):
        counts = [sum(row) for row in matrix]
        # Ties go to the later class, so a balanced binary model still optimises its positive class.
        return keys, keys[min(range(len(keys)), key=lambda i: (counts[i], -i))]
    return keys, keys[-1]


def _check_fixed(loaded: LoadedModel, problem: Problem) -> None:
    """Fixed values of the wrong type for their input: 422 at ``["body", "fixed", name]``."""
    trial = {c.name: c.low if c.continuous else c.values[0] for c in problem.controls}
    try:
        loaded.validate([problem.record(trial)])
    except InvalidInput as exc:
        errors = [{**e, "loc": ["body", "fixed", *e["loc"][3:]]} for e in exc.errors]
        where = errors[0]["loc"][-1] if errors else "fixed"
        raise InvalidInput(
            f"fixed value of {where!r} does not fit the model's input: {errors[0]['msg'] if errors else ''}",
            errors=errors,
        ) from None


def answer(
    name: str,
    loaded: LoadedModel,
    problem: Problem,
    progress: ProgressFn = no_progress,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """Solve ``problem`` on the loaded model: the response body (and an optimize job's result)."""
    solved = solve(problem, model_outcome(loaded.estimator, problem.output), progress, budget_s)
    return {"model": name, "version": loaded.version.version, "task": loaded.version.task, **solved}


def optimize(
    platform: Platform, tenant: str, name: str, version: int | str | None, request: dict[str, Any]
) -> dict[str, Any]:
    """Check and solve a request now, searching for at most :data:`SYNC_SEARCH_S` seconds (the API
    sends large budgets to a job, which has no time bound)."""
    loaded, problem = prepare(platform, tenant, name, version, request)
    return answer(name, loaded, problem, budget_s=SYNC_SEARCH_S)


def create_optimize_job(
    platform: Platform, principal: Principal, name: str, version: int | str | None, request: dict[str, Any]
) -> Job:
    """Check the request now (nothing is stored if it is refused) and queue an "optimize" job
    pinned to the resolved version, within the tenant's quotas and audited."""
    check_room(platform, principal.tenant)
    loaded, _ = prepare(platform, principal.tenant, name, version, request)
    params = {"model": name, "version": loaded.version.version, "request": request}
    return queue(platform, principal, "optimize", params, model=name)

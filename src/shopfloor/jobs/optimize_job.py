"""The "optimize" job: a prescriptive optimisation with a budget too large to answer in a request.

:func:`prepare` and :func:`answer` are also what the optimize service runs for a small budget,
answered in the response (see :mod:`shopfloor.services.optimizing`).
"""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.optimize import Problem, model_outcome, parse, solve
from shopfloor.progress import ProgressFn, no_progress
from shopfloor.registry.entities import Job
from shopfloor.serving.cache import LoadedModel
from shopfloor.tasks import catalog


#: Families whose models take one row of named inputs and give a probability per class or a value.
def prepare(
    platform: Platform, tenant: str, name: str, version: int | str | None, request: dict[str, Any]
) -> tuple[LoadedModel, Problem]:
    """The model and the checked problem. Raises NotFound for an unknown model or version and
    InvalidInput for a model that is not tabular or a request that does not fit its inputs."""
    mv = platform.models.resolve(tenant, name, version)
    if not catalog.capabilities(mv.task).optimise:
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



def run_optimize(platform: Platform, job: Job, progress: ProgressFn) -> dict[str, Any]:
    """Result: the same answer as ``POST /v1/models/{name}/optimize`` gives for a small budget."""
    p = job.params
    progress(0.0, "loading", "reading the model")
    loaded, problem = prepare(platform, job.tenant, p["model"], int(p["version"]), p["request"])
    return answer(p["model"], loaded, problem, progress)

"""The explicit list of task families, and every question about a task answered from their declarations.

Listed by hand (not discovered) so that every family is visible in one place. Each family's
package declares its tasks (``TASKS``: :class:`~shopfloor.tasks.base.TaskSpec`, with their
:class:`~shopfloor.tasks.base.Capabilities`) without importing anything heavy; an estimator's
module is imported only when a model of its task is made or loaded. A family kept outside this
package is added with :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel

from shopfloor.errors import InvalidInput
from shopfloor.tasks.base import Capabilities, TaskSpec

#: One line per family: the package whose ``TASKS`` declares its tasks.
FAMILIES = (
    "shopfloor.tasks.tabular",
    "shopfloor.tasks.rul",
    "shopfloor.tasks.anomaly",
    "shopfloor.tasks.text",
    "shopfloor.tasks.image_classification",
    "shopfloor.tasks.image_anomaly",
    "shopfloor.tasks.forecast",
    "shopfloor.tasks.signals",
    "shopfloor.tasks.series_anomaly",
)

#: The task a training request gets when it names none (CLI and SDK defaults).
DEFAULT_TASK = "tabular_classification"

_REGISTERED: dict[str, TaskSpec] = {}


@cache
def _builtin() -> dict[str, TaskSpec]:
    found: dict[str, TaskSpec] = {}
    for package in FAMILIES:
        for spec in importlib.import_module(package).TASKS:
            found[spec.name] = spec
    return found


def _specs() -> dict[str, TaskSpec]:
    return {**_builtin(), **_REGISTERED}


def register(*specs: TaskSpec) -> None:
    """Add the tasks of a family kept outside :data:`FAMILIES` (a plug-in, a test's family).
    A name already known is refused, so a family cannot shadow another."""
    for spec in specs:
        if spec.name in _specs():
            raise ValueError(f"task {spec.name!r} is already declared")
        _REGISTERED[spec.name] = spec


def unregister(*names: str) -> None:
    """Forget tasks added with :func:`register` (built-in families stay)."""
    for name in names:
        _REGISTERED.pop(name, None)


def tasks() -> list[str]:
    """Names of every task the server knows (trained here or imported)."""
    return sorted(_specs())


def spec(task: str) -> TaskSpec:
    """The declaration of ``task``; an unknown task is a 422 at ``["body", "task"]``."""
    try:
        return _specs()[task]
    except KeyError:
        raise InvalidInput(
            f"unknown task {task!r}; known tasks: {', '.join(tasks())}",
            errors=[{"loc": ["body", "task"], "msg": "unknown task"}],
        ) from None


def capabilities(task: str) -> Capabilities:
    """What ``task`` learns from and serves (its family's declaration; nothing heavy is imported)."""
    return spec(task).capabilities


def tasks_where(test: Callable[[Capabilities], bool]) -> list[str]:
    """The tasks whose capabilities pass ``test`` (sorted), e.g. every trainable task."""
    return [name for name, s in sorted(_specs().items()) if test(s.capabilities)]


def explain_methods() -> list[str]:
    """Every explanation method some family answers, in the order the families declare them."""
    seen: dict[str, None] = {}
    for s in _specs().values():
        seen.update(dict.fromkeys(s.capabilities.explain))
    return list(seen)


def trainable(task: str) -> bool:
    """Whether a training job can fit ``task`` (imported families cannot)."""
    return task in _specs() and capabilities(task).trainable


def estimator_class(task: str) -> Any:
    """The estimator class for ``task`` (imports its module on first use)."""
    module, _, cls = spec(task).estimator.partition(":")
    return getattr(importlib.import_module(module), cls)


def make_estimator(task: str, **params: Any) -> Any:
    """A new, unfitted estimator for ``task`` with ``params`` as hyper-parameters."""
    return estimator_class(task)(**spec(task).fixed, **params)


def join_names(names: list[str], last: str = "and") -> str:
    """``a, b and c``: task names in a message."""
    if len(names) < 2:
        return names[0] if names else "none"
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def option_model(task: str) -> type[BaseModel] | None:
    """The pydantic model of the ``options`` a training request for ``task`` may give (None for a
    family without training jobs), from the family's declaration."""
    if task not in _specs():
        return None
    model: type[BaseModel] | None = capabilities(task).options
    return model

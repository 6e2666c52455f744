"""Checking a task family's options before any work: one error shape and the checks they share.

Each family declares the options a training request may give as a pydantic model
(``tasks/<family>/options.py``, a :class:`FamilyOptions`); :func:`validate_options` checks a
request's ``options`` against it, and the estimator's own ``check_options`` then checks what needs
data or several options at once. A bad option is a 422 located at ``["body", "options", name]``,
whichever family refuses it; an option the family does not take is located at ``["body", "options"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from shopfloor.errors import InvalidInput


class FamilyOptions(BaseModel):
    """The options of one task family: every field a keyword of its estimator, with the same default.

    Strict (a JSON number is not read from a string, ``true`` is not 1) and closed (an unknown
    option is refused), as the estimators' checks always were.
    """

    model_config = ConfigDict(extra="forbid", strict=True)


def option_error(name: str, msg: str) -> InvalidInput:
    """The error for option ``name``: ``msg`` says what is wrong with it."""
    return InvalidInput(f"option {name!r}: {msg}", errors=[{"loc": ["body", "options", name], "msg": msg}])


def validate_options(model: type[BaseModel], options: Mapping[str, Any], task: str) -> dict[str, Any]:
    """``options`` as given, once ``model`` (the options of ``task``) accepts them.

    Values are returned unchanged (not coerced), so a job keeps the options its request sent.
    Raises :class:`InvalidInput`: options ``task`` does not take at ``["body", "options"]``, values
    the model refuses at ``["body", "options", name]``.
    """
    unknown = [name for name in options if name not in model.model_fields]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        takes = ", ".join(model.model_fields) or "none"
        raise InvalidInput(
            f"{task} does not take the option(s) given: {listed} (its options: {takes})",
            errors=[{"loc": ["body", "options"], "msg": f"unexpected option(s): {listed}"}],
        )
    try:
        model.model_validate(dict(options))
    except ValidationError as exc:
        said: dict[str, list[str]] = {}  # option -> what is wrong (several for an either-or type)
        for error in exc.errors():
            said.setdefault(str(error["loc"][0]), []).append(_message(error))
        errors = [{"loc": ["body", "options", name], "msg": "; ".join(msgs)} for name, msgs in said.items()]
        name, msg = next(iter(said)), errors[0]["msg"]
        raise InvalidInput(f"option {name!r}: {msg}", errors=errors) from None
    return dict(options)


def _message(error: Mapping[str, Any]) -> str:
    """pydantic's message, with where in a list or which alternative when it says more."""
    where = [str(part) for part in error["loc"][1:] if isinstance(part, int)]
    return f"{error['msg']} (item {where[0]})" if where else str(error["msg"])


def is_whole(value: Any, low: int, high: int) -> bool:
    """``value`` is an integer (not a bool) from ``low`` to ``high``."""
    import numpy as np  # kept out of import time: the option models import this module

    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(low <= value <= high)


def check_time_budget(value: Any) -> None:
    """``time_budget_s`` must be a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise option_error("time_budget_s", "must be a positive number of seconds")

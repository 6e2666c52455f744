"""Checking a task family's options before any work: one error shape and the checks they share.

A bad option is a 422 located at ``["body", "options", name]``, whichever family refuses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput


def option_error(name: str, msg: str) -> InvalidInput:
    """The error for option ``name``: ``msg`` says what is wrong with it."""
    return InvalidInput(f"option {name!r}: {msg}", errors=[{"loc": ["body", "options", name], "msg": msg}])


def is_whole(value: Any, low: int, high: int) -> bool:
    """``value`` is an integer (not a bool) from ``low`` to ``high``."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(low <= value <= high)


def check_time_budget(value: Any) -> None:
    """``time_budget_s`` must be a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise option_error("time_budget_s", "must be a positive number of seconds")

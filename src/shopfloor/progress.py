"""How a long step reports how far it is: the callback a job passes down to the work it runs."""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(fraction_0_to_1, stage, message)``; it may raise ``JobCancelled``.
ProgressFn = Callable[[float, str, str], None]


def no_progress(fraction: float, stage: str, message: str) -> None:
    """Default progress callback: ignore."""

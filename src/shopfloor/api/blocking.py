"""Blocking registry work of the hot routes, on threads of this process's own.

A streaming call reads, scores and writes its assets' state in one registry transaction, and that
transaction can wait: on SQLite for the write lock (up to the driver's busy timeout) while another
API process or the job runner writes; on PostgreSQL for its round trips, and for the row lock of a
concurrent call on the same asset. On the event loop such a wait would stall every other request
of the process; here it holds one thread, and the event loop goes on serving.

Its own executor rather than the shared thread pool (``run_in_threadpool``): uploads and
explanations cannot take its threads, the hop is cheaper (``loop.run_in_executor``, without anyio's
limiter and cancel scope, a few tens of microseconds less per call, a point per call being the usual
stream), and :data:`THREADS` bounds the registry connections these calls hold at once (SQLite
serialises writers anyway; PostgreSQL's pool keeps room for key checks, audit and jobs).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Threads per API process; calls beyond them queue (in order) without holding a connection.
THREADS = 8


class BlockingWork:
    """A small thread pool for registry transactions of the hot routes (``app.state.blocking``).

    The threads start on first use; :meth:`close` waits for the calls in flight (their transactions
    finish, so the registry can be closed after it), and a later :meth:`run` starts new ones.
    """

    def __init__(self, threads: int = THREADS) -> None:
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on one of the threads; its result or its exception.

        A cancelled caller (a client gone) does not stop the call: its transaction completes or
        rolls back whole, as it would for a client that stayed. The call runs in a copy of the
        caller's context, so its log lines and the prediction log carry the request's id.
        """
        executor = self._executor
        if executor is None:
            executor = ThreadPoolExecutor(self.threads, thread_name_prefix="shopfloor-registry")
            self._executor = executor
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(executor, context.run, fn, *args)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

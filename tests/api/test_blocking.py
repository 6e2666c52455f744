"""The hot routes' registry threads: results and errors come back; closed, they start again."""

from __future__ import annotations

import asyncio
import threading

import pytest

from shopfloor.api.blocking import BlockingWork


def test_work_runs_off_the_event_loop_thread_and_returns_or_raises() -> None:
    work = BlockingWork(threads=2)

    async def main() -> None:
        loop_thread = threading.get_ident()
        assert await work.run(lambda a, b: (a + b, threading.get_ident() != loop_thread), 1, 2) == (3, True)
        with pytest.raises(ZeroDivisionError):
            await work.run(lambda: 1 / 0)

    asyncio.run(main())
    work.close()
    assert asyncio.run(work.run(max, 3, 4)) == 4  # a closed pool starts new threads on next use
    work.close()


def test_work_sees_the_callers_request_id() -> None:
    from shopfloor.telemetry.logcontext import LogContext, bind, current_request_id, unbind

    work = BlockingWork(threads=1)

    async def main() -> str | None:
        token = bind(LogContext(request_id="req-42"))
        try:
            return await work.run(current_request_id)
        finally:
            unbind(token)

    assert asyncio.run(main()) == "req-42"  # stream scoring logs under the request's id
    work.close()

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

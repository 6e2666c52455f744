"""die_with_parent: a spawned child stops when its parent is SIGKILLed, by prctl or by the watch thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopfloor import lifecycle

PARENT = """
import multiprocessing as mp, sys, time
from shopfloor import lifecycle

def child(use_prctl):
    if not use_prctl:  # the portable path alone
        lifecycle._set_pdeathsig = lambda sig: False
    lifecycle.die_with_parent(grace_s=2.0)
    print("child", mp.current_process().pid, flush=True)
    time.sleep(120)

if __name__ == "__main__":
    proc = mp.get_context("spawn").Process(target=child, args=(sys.argv[1] == "prctl",))
    proc.start()
    proc.join()
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["prctl", "watch"])
def test_child_ends_when_its_parent_is_killed(tmp_path: Path, how: str) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), how], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        child = int(line.split()[1])
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_nothing_to_watch_outside_multiprocessing() -> None:
    assert lifecycle.parent_pid() is None
    assert lifecycle.die_with_parent() is False

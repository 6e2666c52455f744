"""Child processes that die with their parent: API workers, the job runner and job processes.

``shopfloor serve`` starts children with multiprocessing's spawn context (the job runner, and
uvicorn's workers with ``--workers N``); the runner starts one child per job. If the parent is
killed outright (``kill -9``, the OOM killer), nothing tells those children, and they would
keep the port and the registry open with parent 1. Each child therefore calls
:func:`die_with_parent` first thing:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends the signal when the parent
  goes. The kernel tracks the *thread* that forked the child, not the process: a child forked
  from a short-lived thread would get the signal when that thread ends. Every Shopfloor child
  is started from its parent's main thread, which lives as long as the process;
* everywhere, a daemon thread that watches ``os.getppid()`` (it changes when the parent dies
  and the child is re-parented) and sends the same signal: the portable fallback, and the
  backstop that ends the process with ``os._exit`` if it has not stopped ``grace_s`` seconds
  after the signal.

The signal is SIGTERM so that each process stops the way it does on ``kill PID`` (uvicorn
drains, the runner stops its jobs and marks them failed); the hard exit bounds the time.

multiprocessing's resource tracker cannot be avoided: the spawn context starts it before the
first child, whatever the child shares. It needs no signal: it exits when the last process
holding its pipe (the serving process and every spawned child) has ended, so it goes once the
children above are gone. The runner keeps it idle by using a thread event, not a semaphore.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.25


def _set_pdeathsig(sig: int) -> bool:
    """Ask the Linux kernel to send ``sig`` to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def parent_pid() -> int | None:
    """The pid of the process that spawned this one through multiprocessing, else None."""
    parent = mp.parent_process()
    return parent.pid if parent is not None else None


def die_with_parent(parent: int | None = None, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> bool:
    """Make this process stop when ``parent`` (default: the multiprocessing parent) dies.

    Sends ``sig`` to this process as soon as the parent is gone, then exits with status 1 if
    the process is still alive ``grace_s`` seconds later. Returns False (and does nothing) when
    there is no parent to watch, that is in a process not started by multiprocessing.
    """
    parent = parent if parent is not None else parent_pid()
    if parent is None:
        return False
    _set_pdeathsig(sig)
    watcher = threading.Thread(
        target=_watch, args=(parent, sig, grace_s), name="shopfloor-parent-watch", daemon=True
    )
    watcher.start()
    return True


def _watch(parent: int, sig: int, grace_s: float) -> None:
    # Checked once before the first sleep too: the parent may have died before prctl was set.
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL_S)
    log.warning("parent process %d is gone; stopping process %d", parent, os.getpid())
    os.kill(os.getpid(), sig)
    time.sleep(grace_s)
    os._exit(1)


def process_alive(pid: int) -> bool:
    """True if ``pid`` runs; a zombie (killed, never reaped by a dead parent) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")

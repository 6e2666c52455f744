"""``shopfloor serve``: prepare the home directory, start the job runner, run uvicorn.

``settings.role`` picks what one process runs: ``all`` (the default) the API and a job runner
child, ``api`` the API only, ``worker`` the job runner only, in this process and with no HTTP
port. Roles share nothing but the registry (and the artifact store): an ``api`` process queues
jobs there and any ``worker`` or ``all`` process on any host claims them, each job once.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing as mp
import os
import shutil
import signal
import sys
import threading
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from shopfloor.settings import Settings, metrics_dir

log = logging.getLogger(__name__)

#: Seconds uvicorn waits for open requests after SIGTERM before closing their connections.
GRACEFUL_SHUTDOWN_S = 8
#: Seconds the job runner gets to stop its jobs before it is killed.
RUNNER_STOP_S = 10.0


class _Stop(BaseException):
    """Raised by the SIGTERM handler of the serving process; unwinds to the cleanup in :func:`serve`."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # uvicorn (one worker) handles SIGTERM itself while it runs, then restores this handler and
    # raises the signal again once it has drained: without a handler here the process would die
    # right there, before it stops the job runner, leaving the runner with parent 1.
    raise _Stop


def _announce(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def serve(settings: Settings) -> None:
    """Run the server until interrupted. On a registry with no keys, print a first admin key once."""
    from shopfloor.bootstrap import first_admin_key, prepare
    from shopfloor.context import clear_dead_scratch
    from shopfloor.jobs.runner import recover
    from shopfloor.privacy.log_masking import logging_config

    # Masked lines in this process and, through uvicorn's log_config, in every API worker.
    log_config = logging_config()
    logging.config.dictConfig(log_config)
    home = settings.home.resolve()
    settings = settings.model_copy(update={"home": home})
    if settings.role != "worker":
        # Every API and job process leaves its metrics snapshot here; counts start afresh. A worker
        # leaves them: an API server on the same home may be running.
        shutil.rmtree(metrics_dir(settings), ignore_errors=True)
    # Worker processes (uvicorn --workers) rebuild settings from the environment.
    os.environ["SHOPFLOOR_HOME"] = str(home)
    platform = prepare(settings)
    secret = first_admin_key(platform)
    failed = recover(platform.store, settings)
    clear_dead_scratch(settings)  # files in flight of a killed process (e.g. a half-received upload)
    if failed:
        log.warning("marked %d job(s) failed that were running when the server last stopped", failed)
    platform.close()
    if secret:
        _announce(
            "\n  Created tenant 'default' and its first admin API key (shown once, store it now):\n\n"
            f"    {secret}\n\n  export SHOPFLOOR_API_KEY={secret}\n"
        )
    if settings.role == "worker":
        _work(settings)
    else:
        _serve_api(settings, log_config, with_runner=settings.role == "all")


def _work(settings: Settings) -> None:
    """The ``worker`` role: the job runner in this process, no HTTP port, until SIGTERM or SIGINT."""
    from shopfloor.jobs.runner import JobRunner

    stop, signals = threading.Event(), []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _announce(
        f"  Shopfloor job worker (role worker, no HTTP port): up to {settings.job_workers} job(s) "
        f"at once, home: {settings.home}"
    )
    JobRunner(settings).run(stop)  # stops its jobs (and marks them failed) before it returns
    if signal.SIGTERM in signals:  # end as a process stopped by SIGTERM does (exit status 143)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


def _serve_api(settings: Settings, log_config: dict[str, Any], *, with_runner: bool) -> None:
    """The ``api`` and ``all`` roles: uvicorn in this process (and its workers), plus, for ``all``,
    a job runner child that is stopped when the API stops."""
    import uvicorn

    from shopfloor.jobs.runner import runner_main

    signal.signal(signal.SIGTERM, _on_sigterm)
    runner = mp.get_context("spawn").Process(target=runner_main, args=(settings,), name="shopfloor-jobs")
    stopped = False
    try:
        if with_runner:
            runner.start()
        jobs = "" if with_runner else ", role api: no job runner"
        _announce(
            f"  Shopfloor on http://{settings.host}:{settings.port}  "
            f"(API docs: /docs, home: {settings.home}{jobs})"
        )
        if settings.workers > 1:
            uvicorn.run(
                "shopfloor.api.app:app_factory",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                access_log=settings.access_log,
                log_config=log_config,
                log_level=None,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
        else:
            from shopfloor.api.app import create_app

            uvicorn.run(
                create_app(settings),
                host=settings.host,
                port=settings.port,
                access_log=settings.access_log,
                log_config=log_config,
                log_level=None,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
    except _Stop:
        stopped = True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
        _stop_runner(runner)
    if stopped:  # end as a process stopped by SIGTERM does (exit status 143 in a shell)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


def _stop_runner(runner: BaseProcess) -> None:
    """SIGTERM the job runner (it stops its jobs), then kill it if it has not ended in time."""
    if runner.pid is None:  # never started
        return
    runner.terminate()
    runner.join(RUNNER_STOP_S)
    if runner.is_alive():
        log.warning("the job runner did not stop within %gs; killing it", RUNNER_STOP_S)
        runner.kill()
        runner.join(5)

"""``shopfloor serve``: prepare the home directory, start the job runner, run uvicorn.

On SIGTERM the server drains: uvicorn stops accepting connections (new ones are refused) and
gives open requests up to ``shutdown_grace_s`` to finish; meanwhile (with one API process; after
the workers have stopped with several) the job runner gives running jobs up to ``job_drain_s``,
then hands those still running back to the queue.
"""

from __future__ import annotations

import json
import logging
import logging.config
import multiprocessing as mp
import os
import shutil
import signal
import sys
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from shopfloor.settings import Settings, metrics_dir

log = logging.getLogger(__name__)

#: Seconds the job runner gets, beyond its jobs' drain time, to stop them before it is killed.
RUNNER_STOP_MARGIN_S = 10.0


class _Stop(BaseException):
    """Raised by the SIGTERM handler of the serving process; unwinds to the cleanup in :func:`serve`."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # uvicorn (one worker) handles SIGTERM itself while it runs, then restores this handler and
    # raises the signal again once it has drained: without a handler here the process would die
    # right there, before it stops the job runner, leaving the runner with parent 1.
    raise _Stop


def _announce(text: str, as_json: bool = False) -> None:
    # Written past logging on purpose: the first key must not be masked. With JSON logs it is one
    # JSON object too, so that a log collector reading standard error parses every line.
    if as_json:
        when = datetime.now(UTC).isoformat(timespec="milliseconds")
        line = {
            "time": when,
            "level": "WARNING",
            "logger": __name__,
            "message": text.strip(),
            "process": "api",
        }
        text = json.dumps(line, ensure_ascii=False)
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def serve(settings: Settings) -> None:
    """Run the server until interrupted. On a registry with no keys, print a first admin key once."""
    from shopfloor.bootstrap import first_admin_key, prepare
    from shopfloor.context import clear_dead_scratch
    from shopfloor.jobs.runner import recover, runner_main
    from shopfloor.privacy.log_masking import logging_config

    # Masked lines in this process and, through uvicorn's log_config, in every API worker.
    log_config = logging_config(json_role="api" if settings.log_format == "json" else None)
    logging.config.dictConfig(log_config)
    home = settings.home.resolve()
    settings = settings.model_copy(update={"home": home})
    # Every API and job process leaves its metrics snapshot here; counts start afresh.
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
    as_json = settings.log_format == "json"
    if secret:
        _announce(
            "\n  Created tenant 'default' and its first admin API key (shown once, store it now):\n\n"
            f"    {secret}\n\n  export SHOPFLOOR_API_KEY={secret}\n",
            as_json,
        )
    signal.signal(signal.SIGTERM, _on_sigterm)
    runner = mp.get_context("spawn").Process(target=runner_main, args=(settings,), name="shopfloor-jobs")
    stopped = False
    try:
        runner.start()
        _announce(
            f"  Shopfloor on http://{settings.host}:{settings.port}  (API docs: /docs, home: {home})", as_json
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
                timeout_graceful_shutdown=settings.shutdown_grace_s,
            )
        else:
            from shopfloor.api.app import create_app

            config = uvicorn.Config(
                create_app(settings),
                host=settings.host,
                port=settings.port,
                access_log=settings.access_log,
                log_config=log_config,
                log_level=None,
                timeout_graceful_shutdown=settings.shutdown_grace_s,
            )
            _DrainingServer(config, runner).run()
    except _Stop:
        stopped = True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
        _stop_runner(runner, settings.job_drain_s + RUNNER_STOP_MARGIN_S)
    if stopped:  # end as a process stopped by SIGTERM does (exit status 143 in a shell)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


class _DrainingServer(uvicorn.Server):
    """uvicorn's server that, on the first SIGTERM or SIGINT, also tells the job runner to drain, so
    that running jobs and open requests get their time together rather than one after the other."""

    def __init__(self, config: uvicorn.Config, runner: BaseProcess) -> None:
        super().__init__(config)
        self.runner = runner

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit and self.runner.pid is not None and self.runner.is_alive():
            self.runner.terminate()
        super().handle_exit(sig, frame)


def _stop_runner(runner: BaseProcess, wait_s: float) -> None:
    """SIGTERM the job runner (it drains its jobs), then kill it if it has not ended in ``wait_s``."""
    if runner.pid is None:  # never started
        return
    runner.terminate()
    runner.join(wait_s)
    if runner.is_alive():
        log.warning("the job runner did not stop within %gs; killing it", wait_s)
        runner.kill()
        runner.join(5)

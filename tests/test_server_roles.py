"""``shopfloor serve --role api|worker|all``: what each role starts, and a bad role refused.

The roles on real processes sharing one registry: tests/e2e/test_roles.py.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shopfloor import server
from shopfloor.cli import app
from shopfloor.settings import Settings

runner = CliRunner()


def _plain(output: str) -> str:
    """The CLI's message without rich's box and line breaks."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def test_a_bad_role_is_refused_with_the_roles_named(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(server, "serve", started.append)
    result = runner.invoke(app, ["serve", "--role", "scheduler"])
    assert result.exit_code == 2
    text = _plain(result.output)
    assert "'scheduler' is not one of 'api', 'worker', 'all'" in text, text
    assert started == []


def test_a_bad_role_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[Any] = []
    monkeypatch.setattr(server, "serve", started.append)
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPFLOOR_ROLE", "jobs")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    text = _plain(result.output)
    assert "invalid Shopfloor settings" in text, text
    assert "role" in text and "'api', 'worker' or 'all'" in text, text
    assert started == []
    assert not (tmp_path / "home").exists()  # refused before anything was made


@pytest.mark.parametrize("role", ["api", "worker", "all", "WORKER"])
def test_the_role_reaches_the_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, role: str) -> None:
    started: list[Settings] = []
    monkeypatch.setattr(server, "serve", started.append)
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path / "home"))
    assert runner.invoke(app, ["serve", "--role", role]).exit_code == 0
    assert started[0].role == role.lower()


def test_the_default_role_is_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SHOPFLOOR_ROLE", raising=False)
    assert Settings(home=tmp_path).role == "all"


class _Recorder:
    """Stands in for uvicorn.run, the runner process and the in-process job runner."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import uvicorn

        from shopfloor.jobs import runner as jobs_runner

        self.events: list[str] = []
        monkeypatch.setattr(uvicorn, "run", lambda *a, **k: self.events.append("http"))
        recorder_events = self.events

        class FakeServer:  # one API process: uvicorn's server with the drain (server._DrainingServer)
            def __init__(self, config: Any, runner: Any) -> None:
                pass

            def run(self) -> None:
                recorder_events.append("http")

        monkeypatch.setattr(server, "_DrainingServer", FakeServer)
        monkeypatch.setattr(server, "_stop_runner", lambda proc, *_: self.events.append("runner-stopped"))
        recorder = self

        class FakeProcess:
            pid = None

            def __init__(self, **kwargs: Any) -> None:
                self.kwargs = kwargs

            def start(self) -> None:
                recorder.events.append("runner-started")

        class FakeContext:
            Process = FakeProcess

        monkeypatch.setattr(server.mp, "get_context", lambda kind: FakeContext())

        class FakeRunner:
            def __init__(self, settings: Settings) -> None:
                recorder.events.append("jobs-in-process")

            def run(self, stop: Any) -> None:
                recorder.events.append("jobs-ran")

        monkeypatch.setattr(jobs_runner, "JobRunner", FakeRunner)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("all", ["runner-started", "http", "runner-stopped"]),
        ("api", ["http", "runner-stopped"]),  # stopping a runner never started is a no-op
        ("worker", ["jobs-in-process", "jobs-ran"]),
    ],
)
def test_each_role_starts_what_it_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, role: str, expected: list[str]
) -> None:
    recorder = _Recorder(monkeypatch)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        server.serve(Settings(home=tmp_path / "home", role=role))  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert recorder.events == expected

"""Start the real server in a subprocess on a free port, as a user would with `shopfloor serve`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from shopfloor import Client

BIN = Path(sys.executable).parent


def session_pids(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``, read from /proc; the server runs in its own."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        # after the command name: state, ppid, pgrp, session, ...
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path, port: int | None = None, workers: int = 1, **env: str) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home.parent / f"server-{self.port}.log"
        self.workers = workers
        self.env = {**os.environ, "SHOPFLOOR_HOME": str(home), "OMP_NUM_THREADS": "1", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Server:
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "shopfloor"), "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def admin_key(self) -> str | None:
        found = re.findall(r"sfk_[0-9a-f]+_[A-Za-z0-9_\-]+", self.log.read_text())
        return found[0] if found else None

    def kill(self) -> None:
        """SIGKILL the whole process group: API, job runner and job processes."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def gone_within(server: Server, seconds: float) -> float:
    """Seconds until no process of the server's session is left (the server runs in its own session)."""
    assert server.proc is not None
    sid, start = server.proc.pid, time.monotonic()
    while time.monotonic() - start < seconds:
        server.proc.poll()  # reap the serving process itself once it ends
        if not session_pids(sid):
            return time.monotonic() - start
        time.sleep(0.2)
    left = {
        pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for pid in session_pids(sid)
    }
    os.killpg(sid, signal.SIGKILL)
    raise AssertionError(f"still running {seconds:g}s later: {left}")


def serve_admin(home: Path, **env: str) -> Iterator[Client]:
    """A started server and an admin SDK client on it; the server stops when the generator closes.
    For a module fixture: ``yield from serve_admin(tmp_path_factory.mktemp(name) / "home")``."""
    server = Server(home, **env).start()
    key = server.admin_key()
    assert key
    try:
        with Client(server.url, key) as client:
            yield client
    finally:
        server.stop()

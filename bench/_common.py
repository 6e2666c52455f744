"""Helpers shared by the benchmark scripts: processes, wrk, machine info, docs/benchmarks.md sections.

Benchmarks run on loopback only and must leave nothing behind: every process
here is started in its own session (process group) and stopped by group.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop the processes we started."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


class Process:
    """A server subprocess in its own process group, logging to a file; ``stop()`` ends the whole group."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log: Path, name: str) -> None:
        self.argv, self.env, self.log, self.name = list(argv), dict(env), log, name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=fh, stderr=fh,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait_http(self, url: str, timeout: float = 60) -> None:
        """Poll ``url`` until it answers 200; raise with the log tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 15) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left of it."""
        proc = self.proc
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            # the leader is gone; children (workers, job runner) may linger: kill them too
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        self.proc = None


# ---------------------------------------------------------------------------------------------- wrk

def ensure_wrk() -> str:
    """Path of ``wrk``; installs the Debian package if missing (``apt-get update`` only if that fails)."""
    found = shutil.which("wrk")
    if found:
        return found
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True, timeout=300).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300, check=True)
        subprocess.run(install, env=env, capture_output=True, timeout=300, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed with apt-get")
    return found


def _lua_long_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def wrk_post_script(body: str, headers: Mapping[str, str]) -> str:
    """A wrk Lua script: POST ``body`` with ``headers``; ``done()`` prints one parseable result line."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_long_string(body)}"]
    lines += [f"wrk.headers[ {_lua_long_string(k)} ] = {_lua_long_string(v)}" for k, v in headers.items()]
    lines.append("""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%.0f duration_us=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f"
    .. " non2xx=%.0f socket_errors=%.0f\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
""")
    return "\n".join(lines)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_RESULT = re.compile(r"WRK_RESULT (.*)")


def run_wrk(wrk: str, url: str, script: Path, connections: int, seconds: float, threads: int | None = None,
            timeout_s: float = 5) -> WrkResult:
    """One wrk run (one connection per concurrency level); raises if wrk fails or prints no result."""
    threads = threads or (1 if connections < 2 else 2)
    seconds = max(1, round(seconds))  # wrk takes whole seconds
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", f"--timeout={timeout_s:g}s",
            "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    found = _RESULT.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    v = {k: float(x) for k, x in (kv.split("=") for kv in found.group(1).split())}
    return WrkResult(requests=int(v["requests"]), seconds=v["duration_us"] / 1e6, p50_ms=v["p50_us"] / 1e3,
                     p90_ms=v["p90_us"] / 1e3, p99_ms=v["p99_us"] / 1e3, non2xx=int(v["non2xx"]),
                     socket_errors=int(v["socket_errors"]))


# ------------------------------------------------------------------------------------ machine, docs

def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {"nproc": str(nproc), "cpu": cpu, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "python": sys.version.split()[0], "platform": platform.platform(),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``; keep the rest."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    header = "# Benchmarks\n\nEach section is written by its script in `bench/`.\n"
    text = path.read_text() if path.exists() else header
    if start in text and end in text and text.index(start) < text.index(end):
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def timed_loop(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after a short warm-up)."""
    warm_until = time.perf_counter() + min(0.5, seconds / 4)
    while time.perf_counter() < warm_until:
        fn()
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


async def asgi_posts(
    app: Any, path: str, body: bytes, key: str, n: int, query: bytes = b"", pause_s: float = 0.0
) -> tuple[list[float], float]:
    """``n`` calls of ``POST path`` with the JSON ``body`` and API ``key`` straight into the ASGI ``app``
    (no network), one after the other (``pause_s`` apart, the interpreter left to other threads
    meanwhile): the wall seconds of each call, and the process CPU seconds in all. Raises unless the
    last answer is 200."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    walls: list[float] = []
    cpu = time.process_time()
    for _ in range(n):
        start = time.perf_counter()
        await app(dict(scope), receive, send)
        walls.append(time.perf_counter() - start)
        if pause_s:
            time.sleep(pause_s)
    cpu = time.process_time() - cpu
    if status[0] != 200:
        raise RuntimeError(f"POST {path} answered {status[0]}")
    return walls, cpu


def train_small_model(settings: Any, platform: Any, key: str, seeds: Sequence[int] = (0,)) -> None:
    """Model ``m``: a ``tabular_classification`` of four numbers ``a`` to ``d`` (400 rows), trained once
    per seed through the in-process API with ``key`` (versions 1, 2, ...), the jobs run here."""
    import io

    import numpy as np
    import pandas as pd
    from fastapi.testclient import TestClient

    from shopfloor.api.app import create_app
    from shopfloor.jobs.runner import execute

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    frame = pd.DataFrame(x, columns=list("abcd")).assign(y=(x.sum(axis=1) > 0).astype(int))
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings, platform)) as client:
        files = {"file": ("t.csv", io.BytesIO(frame.to_csv(index=False).encode()), "text/csv")}
        ds = client.post("/v1/datasets", files=files, data={"name": "t"}, headers=headers).json()
        body = {"task": "tabular_classification", "dataset_id": ds["id"], "target": "y", "model_name": "m"}
        for seed in seeds:
            job = {**body, "time_budget_s": 10, "seed": seed}
            client.post("/v1/jobs", json=job, headers=headers).raise_for_status()
            while (found := platform.store.claim_job("bench:0")) is not None:
                execute(settings, found.id)

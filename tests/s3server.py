"""A throw-away S3-compatible server for the tests: moto's standalone server, one process per session.

``s3_server`` (session) starts ``python -m moto.server`` on a free loopback port as its own process
(as a store is in production: another process, reached over HTTP) and stops it at the end;
``pause()`` / ``resume()`` freeze and thaw it with SIGSTOP / SIGCONT, so a test sees an endpoint
that accepts connections but never answers (the worst kind of outage: only timeouts end a call)
and then the same store, with its objects, back again. ``s3_settings`` (function) gives a fresh
bucket and Shopfloor settings that point at it.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

#: Credentials moto accepts (it checks none); the tests never reach a real AWS endpoint.
ACCESS_KEY, SECRET_KEY, REGION = "shopfloor-test", "shopfloor-test-secret", "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    def __init__(self, log: Path, env: dict[str, str] | None = None) -> None:
        self.env = dict(env or {})  # more of moto's settings (INITIAL_NO_AUTH_ACTION_COUNT, ...)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    def start(self) -> MotoServer:
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true", **self.env}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited at start:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/moto-api/", timeout=1).status_code < 500:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"moto server did not answer within 30 s:\n{self.log.read_text()[-2000:]}")

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "server.log").start()
    atexit.register(server.stop)  # a second line should the session end without its finalizers
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def s3_bucket(s3_server: MotoServer) -> str:
    """A new, empty bucket on the session's server."""
    if s3_server.paused:  # a test that failed while the server was frozen
        s3_server.resume()
    name = f"shopfloor-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def s3_env(server: MotoServer, bucket: str, prefix: str = "plant-a") -> dict[str, Any]:
    """Settings (as keyword arguments) that put the artifacts in ``bucket`` under ``prefix``, with
    short timeouts so that an outage answers within seconds."""
    return {
        "artifacts_url": f"s3://{bucket}/{prefix}",
        "s3_endpoint_url": server.url,
        "s3_region": REGION,
        "s3_access_key_id": ACCESS_KEY,
        "s3_secret_access_key": SECRET_KEY,
        "s3_timeout_s": 1.0,
        "s3_max_attempts": 2,
    }

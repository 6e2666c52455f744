"""A throw-away PostgreSQL cluster for the tests: one per session, one database per test.

``pg_cluster`` (session) installs Debian's ``postgresql`` when ``initdb`` is missing (as root, with
apt-get), runs ``initdb`` into a temporary directory owned by ``postgres`` (initdb refuses root) and
starts the server on a free loopback port with its socket in that directory; it is stopped with
``pg_ctl stop -m immediate`` at the end of the session, from a finalizer and from ``atexit`` as a
second line, and the directory removed. ``pg_database`` (function) creates a fresh database from
``template0`` and drops it afterwards.

When PostgreSQL cannot be installed or started, the PostgreSQL variants of the tests fail, never
skip silently; set SHOPFLOOR_TEST_POSTGRES=0 to skip them on purpose.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from debian import ensure_package

BACKENDS = ["sqlite", "postgresql"]
SUPERUSER = "postgres"


def enabled() -> bool:
    return os.environ.get("SHOPFLOOR_TEST_POSTGRES", "1") != "0"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def ensure_installed() -> Path:
    """The directory holding initdb and pg_ctl; installs Debian's postgresql first if needed."""
    return ensure_package("postgresql", _bindir, "PostgreSQL (/usr/lib/postgresql/*/bin/initdb)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One PostgreSQL server in a temporary directory, reachable on 127.0.0.1:``port`` without password."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="shopfloor-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.running = False

    def _as_owner(self, *args: str) -> list[str]:
        # initdb and pg_ctl refuse to run as root; everyone else runs them as themselves.
        return ["runuser", "-u", SUPERUSER, "--", *args] if os.geteuid() == 0 else list(args)

    def _run(self, *args: str) -> None:
        done = subprocess.run(self._as_owner(*args), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}{tail}")

    def start(self) -> Cluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, user=SUPERUSER, group=SUPERUSER)
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        # Durability is worthless for a throw-away cluster; skipping fsync keeps CREATE DATABASE fast.
        options = f"-c listen_addresses=127.0.0.1 -p {{port}} -k {self.root} -c fsync=off "
        options += "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        for _attempt in range(3):  # another process may take the free port before the server does
            self.port = _free_port()
            try:
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                    "-o", options.format(port=self.port), "-w", "-t", "60", "start",
                )  # fmt: skip
            except RuntimeError:
                if _attempt == 2:
                    raise
                continue
            self.running = True
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.running:
            self.running = False
            subprocess.run(
                self._as_owner(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        # FORCE ends connections a test left open (a pooled engine, a killed server).
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    if not enabled():
        pytest.skip("PostgreSQL tests switched off with SHOPFLOOR_TEST_POSTGRES=0")
    try:
        cluster = Cluster(ensure_installed())
        atexit.register(cluster.stop)
        cluster.start()
    except Exception as exc:  # noqa: BLE001 - reported as a test failure with the cause
        pytest.fail(f"cannot start a PostgreSQL cluster for the tests: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def pg_database(pg_cluster: Cluster) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database, dropped after the test."""
    name = pg_cluster.create_database()
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.drop_database(name)


def database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """The registry URL for ``backend``: a SQLite file under ``tmp_path`` or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return str(request.getfixturevalue("pg_database"))

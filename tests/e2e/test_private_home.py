"""A real server started from an open umask on an empty home creates nothing others can read."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e


def test_served_uploads_leave_an_owner_only_home(tmp_path: Path) -> None:
    home = tmp_path / "home"  # empty: the server creates it
    before = os.umask(0o022)  # what a shell usually starts `shopfloor serve` with
    try:
        server = Server(home, SHOPFLOOR_MAX_UPLOAD_MB="4").start()
    finally:
        os.umask(before)
    try:
        key = server.admin_key()
        assert key
        table = b"x,kind,y\n" + b"".join(f"{i},{'abc'[i % 3]},{i % 2}\n".encode() for i in range(120_000))
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as http:
            up = http.post("/v1/datasets", files={"file": ("t.csv", table, "text/csv")})  # > 1 MB
            assert up.status_code == 201, up.text
    finally:
        server.stop()
    paths = [home, *home.rglob("*")]
    assert (home / "registry.db").exists() and any((home / "artifacts").rglob("*.*"))
    modes = {p: p.stat().st_mode for p in paths}
    assert [f"{p.relative_to(home)} {stat.filemode(m)}" for p, m in modes.items() if m & 0o077] == []

"""Scratch files: data in flight is readable by its process only and leaves nothing on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shopfloor.storage import scratch
from shopfloor.storage.scratch import scratch_file

MARKER = b"serial,owner\nS-0001,anna.berg@example.com\n"
needs_memory_files = pytest.mark.skipif(not scratch.in_memory(), reason="no anonymous memory files here")


def _holding_marker(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and MARKER in p.read_bytes()]


@needs_memory_files
def test_a_scratch_file_is_a_readable_path_with_nothing_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / "scratch"
    with scratch_file(folder, "upload-1") as path:
        path.write_bytes(MARKER)
        assert path.read_bytes() == MARKER and path.stat().st_size == len(MARKER)
        with path.open("rb") as again:  # parsers open it more than once
            assert again.read() == MARKER
        assert not folder.exists() or _holding_marker(folder) == []
    with pytest.raises(OSError):
        path.read_bytes()  # gone with the context


def test_the_fallback_is_an_owner_only_file_removed_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scratch, "in_memory", lambda: False)
    folder = tmp_path / "scratch"
    with scratch_file(folder, "upload-2") as path:
        path.write_bytes(MARKER)
        assert path.parent == folder and path.stat().st_mode & 0o077 == 0
        assert folder.stat().st_mode & 0o077 == 0
    assert not path.exists()


KILLED = """
import sys, time
from pathlib import Path
from shopfloor.storage.scratch import scratch_file

with scratch_file(Path(sys.argv[1]), "upload-3") as path:
    with path.open("wb") as sink:
        sink.write(bytes.fromhex(sys.argv[2]))
        sink.flush()
        print("written", flush=True)
        time.sleep(60)
"""


@needs_memory_files
def test_a_killed_upload_leaves_no_plaintext(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "tmp" / "worker"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", KILLED, str(folder), MARKER.hex()], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"written\n"
        assert _holding_marker(tmp_path) == []  # mid-request: not in any file
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert _holding_marker(tmp_path) == []

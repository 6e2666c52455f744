"""Every shell and Python block of README.md, run as written against a real server.

The harness does what the README's set-up asks of a reader (``make serve``: a server on a fresh
home, the admin key from its first start) and then runs the blocks in README order in one empty
working folder: bash blocks with ``bash -euo pipefail``, python blocks each as its own script, with
SHOPFLOOR_URL and SHOPFLOOR_API_KEY exported and the virtualenv's bin first on PATH. Example data
comes through ``shopfloor examples get``, offline from SHOPFLOOR_DATA_DIR. A block's stated output
(the ```output block after it) is checked; see tests/readme_blocks.py for the matching rules.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server import Server

from readme_blocks import Block, mismatch, readme_blocks

# The README states what its walkthroughs print, and trainings bound by a time budget print that
# only with the CPU to themselves.
pytestmark = [pytest.mark.e2e, pytest.mark.serial]

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = readme_blocks(README)
BLOCK_TIMEOUT_S = 300
_failed: list[str] = []


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("readme")
    server = Server(root / "home").start()
    key = server.admin_key()
    assert key, server.log.read_text()
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SHOPFLOOR_HOME"}
    env.update(
        SHOPFLOOR_URL=server.url,
        SHOPFLOOR_API_KEY=key,
        SHOPFLOOR_DATA_DIR=str(data_dir),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        COLUMNS="100",
        PYTHONUNBUFFERED="1",
    )
    try:
        yield work, env
    finally:
        server.stop()


def _command(block: Block, work: Path) -> list[str]:
    script = work / f".readme-{block.id}.{'py' if block.language == 'python' else 'sh'}"
    script.write_text(block.code)
    if block.language == "python":
        return [sys.executable, str(script)]
    return ["bash", "-euo", "pipefail", str(script)]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.skip_reason is None], ids=lambda b: b.id)
def test_block_runs_as_written(block: Block, reader: tuple[Path, dict[str, str]]) -> None:
    if _failed:
        pytest.fail(f"not run: block {_failed[0]} failed before it, and the README runs in order")
    work, env = reader
    try:
        done = subprocess.run(  # noqa: S603 - the README's own code, in a scratch folder
            _command(block, work),
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        _failed.append(block.id)
        pytest.fail(f"README line {block.line}: still running after {BLOCK_TIMEOUT_S} s:\n{exc.output}")
    if done.returncode != 0:
        _failed.append(block.id)
        pytest.fail(f"README line {block.line} exited {done.returncode}:\n{block.code}\n---\n{done.stdout}")
    if block.expected is not None:
        why = mismatch(block.expected, done.stdout)
        if why:
            _failed.append(block.id)
            pytest.fail(f"README line {block.line}: {why}")

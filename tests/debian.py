"""Debian packages the tests need (PostgreSQL, Chromium), installed with apt-get when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path


def ensure_package(package: str, find: Callable[[], Path | None], what: str) -> Path:
    """``find()``, after installing Debian's ``package`` with apt-get (as root) if it found nothing.

    ``what`` names what ``find`` looks for, for the error when it cannot be installed here.
    """
    found = find()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            f"{what} is not installed and cannot be installed here (needs root and apt-get); "
            f"install Debian's `{package}` package"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    found = find()
    if found is None:
        raise RuntimeError(f"apt-get installed {package} but {what} was still not found")
    return found

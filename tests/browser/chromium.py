"""Debian's Chromium for the browser tests: installed with apt-get when missing (as root), launched
by Playwright with the flags that keep it quiet on a closed network."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from debian import ensure_package  # noqa: E402

#: Without the background-networking flags Chromium floods a closed network with connections.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _executable() -> Path | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def ensure_installed() -> Path:
    """The Chromium executable; installs Debian's ``chromium`` package first if needed."""
    return ensure_package("chromium", _executable, "Chromium")

"""Opaque, prefixed identifiers of registry rows (ds_, job_) and artifact folders (art_)."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"

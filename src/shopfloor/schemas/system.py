"""Shapes of the system routes: readiness."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CheckResult(BaseModel):
    status: Literal["ok", "fail"]
    error: str | None = Field(None, description="The problem code of a failed check, e.g. store-unavailable.")
    detail: str | None = Field(None, description="What was found, where it says something (revisions).")


class Readiness(BaseModel):
    """``GET /readyz``: 200 when every check passes, else 503 naming the failed ones."""

    status: Literal["ready", "not-ready"]
    failed: list[str] = Field(description="Names of the checks that failed (empty when ready).")
    checks: dict[str, CheckResult] = Field(description="database, artifacts, migrations")

"""Shapes shared by several resources."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response carries them."""

    type: str = Field(description="URI naming the problem kind, e.g. urn:shopfloor:problem:invalid-input")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="Where: each item has loc and msg."
    )


#: Registry integers are 32-bit on every backend; larger numbers are refused as input errors.
MAX_INT = 2**31 - 1
#: A model version number in a path.
VersionPath = Annotated[int, Path(ge=1, le=MAX_INT, description="A version number")]

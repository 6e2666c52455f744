"""Shapes of the Open Inference Protocol (v2) answers that are not tensors."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OipError(BaseModel):
    """An error on a ``/v2`` route, as Triton and KServe clients decode it (the HTTP status says the kind)."""

    error: str = Field(description="What was wrong and where (the input, the output, the model)")

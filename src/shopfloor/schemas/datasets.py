"""Dataset resource shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ColumnPublic(BaseModel):
    name: str
    type: str = Field(description="numeric, categorical, boolean, datetime, text or id")
    missing: int
    stats: dict[str, Any] = Field(default_factory=dict)


class DatasetPublic(BaseModel):
    id: str
    name: str
    version: int
    rows: int
    sha256: str
    size_bytes: int
    format: str
    columns: list[ColumnPublic]
    created_at: datetime


class DatasetList(BaseModel):
    items: list[DatasetPublic]

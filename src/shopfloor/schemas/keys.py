"""API key shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "builder", "consumer", "metrics"]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: str | None = Field(None, max_length=100)


class KeyPublic(BaseModel):
    id: str
    tenant: str
    role: Role
    name: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyPublic):
    secret: str = Field(description="The API key itself; shown once, store it now.")


class KeyList(BaseModel):
    items: list[KeyPublic]

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
    aws: bool = Field(
        False,
        description="Also issue an AWS access key id and secret for this key, for the AWS facades "
        "(AWS SDKs sign requests with them, Signature V4); shown once, like the key.",
    )


class KeyPublic(BaseModel):
    id: str
    tenant: str
    role: Role
    name: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None
    aws_access_key_id: str | None = Field(None, description="The key's AWS access key id, if it has one.")


class KeyCreated(KeyPublic):
    secret: str = Field(description="The API key itself; shown once, store it now.")
    aws_access_key_id: str | None = Field(None, description="With `aws`: the access key id.")
    aws_secret_access_key: str | None = Field(
        None, description="With `aws`: the secret access key; shown once, store it now."
    )


class KeyList(BaseModel):
    items: list[KeyPublic]

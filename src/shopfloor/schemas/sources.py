"""Shapes of a tenant's S3-compatible sources (the secret goes in, never out)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shopfloor.services.sources import MAX_BUCKETS, NAME


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=NAME, description="Unique in the tenant.")
    endpoint_url: str = Field(
        min_length=1,
        max_length=2000,
        description="The S3-compatible endpoint, http(s)://host[:port] (MinIO, Ceph RGW, AWS S3), on a "
        "host or network the server's operator allows.",
    )
    region: str = Field(
        "us-east-1",
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9-]+$",
        description="The region requests are signed for (MinIO and Ceph accept any).",
    )
    access_key_id: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    secret_access_key: SecretStr = Field(
        min_length=1, max_length=256, description="Stored encrypted with the tenant's key; never shown."
    )
    buckets: list[str] = Field(
        min_length=1, max_length=MAX_BUCKETS, description="The buckets this source serves (one source each)."
    )


class SourcePublic(BaseModel):
    name: str
    endpoint_url: str
    region: str
    access_key_id: str
    buckets: list[str]
    created_at: datetime
    created_by: str | None = Field(None, description="The API key that added it.")


class SourceList(BaseModel):
    items: list[SourcePublic]

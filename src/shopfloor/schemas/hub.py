"""Pretrained model hub shapes. Lists are passed on unchecked in length: the hub's own checks
name the offending text or label (``["body", "texts", i]``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Variant = Literal["torch", "onnx", "int8"]


class HubModel(BaseModel):
    name: str
    modality: str
    dimension: int
    size_mb: float
    licence: str
    source: str
    variants: list[str]


class HubList(BaseModel):
    items: list[HubModel]


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[Any] = Field(description="Up to 256 texts")
    variant: Variant | None = Field(None, description="torch, onnx or int8; default: SHOPFLOOR_HUB_VARIANT")


class EmbedResponse(BaseModel):
    model: str
    variant: str
    dimension: int
    embeddings: list[list[float]]
    warnings: list[dict[str, Any]]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[Any] = Field(description="Up to 256 texts")
    labels: list[Any] = Field(description="At least two label names, e.g. 'hydraulic system'")
    variant: Variant | None = None
    template: str = Field("{label}", max_length=200, description="A label's phrasing, e.g. 'a {label} fault'")
    temperature: float = Field(0.05, description="Softmax temperature over the cosine similarities")


class ClassifyResponse(BaseModel):
    model: str
    variant: str
    template: str
    results: list[dict[str, Any]]
    warnings: list[dict[str, Any]]

"""OpenAI-compatible embedding shapes (``/openai/v1``), as OpenAI's API and its clients have them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Any = Field(description="One text or a list of texts (token-id arrays are refused)")
    model: str = Field(min_length=1, max_length=200, description="A hub text encoder, e.g. all-MiniLM-L6-v2")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: lists of numbers; base64: little-endian float32 bytes, base64-encoded"
    )
    dimensions: int | None = Field(None, ge=1, description="Accepted only when equal to the model's own")
    user: str | None = Field(None, max_length=256, description="The end user, as OpenAI takes it (not used)")


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class ErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, or server_error for a 5xx")
    param: str | None = Field(None, description="The request field at fault: input, input[2], dimensions")
    code: str | None = Field(None, description="invalid_api_key, model_not_found, rate_limit_exceeded, ...")


class ErrorResponse(BaseModel):
    """OpenAI's error document, the shape of every error under /openai."""

    error: ErrorDetail

"""Model, version, alias, prediction and explanation shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopfloor.schemas.common import MAX_INT


class VersionPublic(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    version: int
    task: str
    status: str
    created_at: datetime
    job_id: str | None = None
    aliases: list[str] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    stability: dict[str, Any] = Field(default_factory=dict)
    chosen: str | None = None
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    lineage: dict[str, Any] = Field(default_factory=dict)
    input_schema: list[dict[str, Any]] = Field(default_factory=list)
    report: dict[str, Any] = Field(default_factory=dict, description="The full evaluation report.")


class ModelPublic(BaseModel):
    name: str
    task: str
    created_at: datetime
    latest_version: int
    description: str = Field("", description="What the model is for, as its owners wrote it (plain text).")
    aliases: dict[str, int] = Field(default_factory=dict)
    versions: list[VersionPublic] = Field(default_factory=list)


class ModelList(BaseModel):
    items: list[ModelPublic]


MAX_DESCRIPTION = 2000


class ModelUpdate(BaseModel):
    """What the owners of a model may change about it after training."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(
        max_length=MAX_DESCRIPTION,
        description="Plain text (never rendered as markup); line breaks and tabs kept, other control "
        "characters refused. An empty string clears it.",
    )

    @field_validator("description")
    @classmethod
    def _printable(cls, value: str) -> str:
        for i, ch in enumerate(value):
            if (ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127:
                raise ValueError(f"control character U+{ord(ch):04X} at position {i}")
        return value.strip()


class AliasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=MAX_INT)
    force: bool = Field(
        default=False,
        description="Point production at a version whose retraining gate failed (refused without it)",
    )


class AliasPublic(BaseModel):
    model: str
    alias: str
    version: int


class RecordsRequest(BaseModel):
    """Records are plain objects of input column -> value; checked against the model's input schema."""

    records: list[Any] = Field(description="One object per row: input column name -> value.")


class PredictResponse(BaseModel):
    model: str
    version: int
    predictions: list[dict[str, Any]]
    warnings: list[str] = Field(default_factory=list)


class ExplainResponse(BaseModel):
    model: str
    version: int
    method: str
    explanations: list[dict[str, Any]]


class RulesResponse(BaseModel):
    model: str
    version: int
    fidelity: float = Field(description="Share of held-out rows where the rules agree with the model.")
    balanced_fidelity: float | None = Field(
        None, description="Mean over predicted classes of that agreement (honest on imbalanced data)."
    )
    per_class_fidelity: dict[str, float] | None = Field(
        None, description="Per class the model predicts: share of its held-out rows where the rules agree."
    )
    undescribed_classes: list[str] | None = Field(
        None,
        description="When balanced fidelity misses its target (0.9): the classes under it (read with care).",
    )
    depth: int | None = None
    rules: list[dict[str, Any]]


class ScoreResponse(BaseModel):
    """Per asset: the new points' scores and flags, and the events they opened, continued or closed."""

    model: str
    version: int
    results: list[dict[str, Any]]


class StreamReset(BaseModel):
    model: str
    asset: str | None = None
    dropped: int

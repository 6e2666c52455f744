"""The options a text_classification training request may give (``options`` of ``POST /v1/jobs``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions

Candidate = Literal["tfidf", "embedding", "combined", "fine_tuned"]
Variant = Literal["torch", "onnx", "int8"]


class TextOptions(FamilyOptions):
    """Text classification: which column holds the texts and which models are compared."""

    text_column: str | None = Field(
        None,
        title="Text column",
        description="The column of free text (fault reports, work orders). Default: the one column "
        "the dataset profile types as text.",
    )
    label_separator: str | None = Field(
        None,
        title="Label separator",
        description="When one text may carry several labels in the target column, the character "
        "between them, such as '|' or ';'. Default: one label per text.",
    )
    candidates: Annotated[list[Candidate], Field(min_length=1)] | None = Field(
        None,
        title="Models to compare",
        description="Models to compare, each at most once: tfidf (word statistics), embedding (a "
        "pretrained language model's sentence vectors), combined (both), fine_tuned (the language "
        "model trained further on these texts; slow, tried only when time allows). Default: all.",
    )
    encoder: str = Field(
        "all-MiniLM-L6-v2",
        title="Language model",
        description="The pretrained language model for embeddings, by its name in the server's hub "
        "(GET /v1/hub).",
    )
    encoder_variant: Variant = Field(
        "int8",
        title="Language model runtime",
        description="How the language model runs: int8 (fastest, compressed), onnx, or torch (full "
        "precision).",
    )

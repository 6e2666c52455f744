"""Retraining and promotion shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shopfloor.schemas.common import MAX_INT

#: Datasets one retraining may combine.
MAX_DATASETS = 20


class RetrainCreate(BaseModel):
    """Fit the champion's configuration again on new data, gate the new version, maybe promote it."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str | None = Field(None, description="The new data: one dataset id (or give dataset_ids).")
    dataset_ids: list[str] | None = Field(
        None,
        min_length=1,
        max_length=MAX_DATASETS,
        description="Several datasets combined into one table, e.g. the champion's training data "
        "(lineage.dataset_id) and new data, joined as the model's family joins datasets (rows appended; "
        "sensor histories with each dataset's assets kept apart; stretches of one stream that do not "
        "overlap; a forecast's periods, none given twice). Each needs every column the champion reads, "
        "of a type it can read as before. Held-out examples from data the champion was trained on are "
        "left out of the gate's comparison.",
    )
    version: int | None = Field(
        None, ge=1, le=MAX_INT, description="The champion to repeat and compare with; default: production."
    )
    promote: Literal["never", "if_gate_passes"] = Field(
        "never",
        description="if_gate_passes: move production to the new version when its gate passed and "
        "production still points at the champion it was compared with (needs models:write too).",
    )

    @model_validator(mode="after")
    def _one_way_to_name_data(self) -> RetrainCreate:
        if (self.dataset_id is None) == (self.dataset_ids is None):
            raise ValueError("give either dataset_id or dataset_ids")
        if self.dataset_ids is not None and len(set(self.dataset_ids)) < len(self.dataset_ids):
            raise ValueError("dataset_ids lists a dataset twice")
        return self

    def request(self) -> dict[str, Any]:
        """The service's request: the datasets always as a list."""
        ids = self.dataset_ids if self.dataset_ids is not None else [str(self.dataset_id)]
        return {"dataset_ids": ids, "version": self.version, "promote": self.promote}


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_INT, description="The version production should point at.")
    expected: int | None = Field(
        None,
        ge=1,
        le=MAX_INT,
        description="Move production only while it points at this version (409 when someone moved it).",
    )
    force: bool = Field(False, description="Promote a version whose retraining gate failed all the same.")


class PromotePublic(BaseModel):
    model: str
    alias: str
    version: int
    previous: int | None = Field(None, description="The version production pointed at before.")

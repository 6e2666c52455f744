"""Request shape of ``POST /v1/datasets/{id}/synthesize`` (the response is a job)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Synthetic rows one job may write, whatever the real table's size (the job fits, samples, writes
#: and scores them: the work grows with the rows).
MAX_ROWS = 1_000_000


class SynthesizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int | None = Field(
        None,
        ge=1,
        le=MAX_ROWS,
        description=f"Synthetic rows (default: as many as the real table; at most 10x, and {MAX_ROWS:,}).",
    )
    target: str | None = Field(
        None, description="Column for the utility check; without it only fidelity and privacy."
    )
    exclude: list[str] = Field(default_factory=list, description="Columns left out of the synthetic copy.")
    seed: int = 0
    name: str | None = Field(
        None, description="Name of the new dataset (default: '<source name>-synthetic')."
    )

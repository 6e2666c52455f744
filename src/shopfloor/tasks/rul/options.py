"""The options a rul training request may give (``options`` of ``POST /v1/jobs``).

The asset, time and sensor columns are fields of the request itself, not options.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions

Candidate = Literal["lightgbm", "cnn", "ensemble"]


class RulOptions(FamilyOptions):
    """Remaining useful life: how the target is derived and which models are compared."""

    cap: Annotated[float, Field(gt=0)] | None = Field(
        125.0,
        title="Life ceiling",
        description="Ceiling on the remaining life learnt, in the time column's unit (cycles, hours). "
        "Early in an asset's life wear is not visible yet, so any longer remaining life is counted as "
        "this value. Null: no ceiling.",
    )
    window: int = Field(
        30,
        title="Network window (readings)",
        ge=5,
        le=1000,
        description="How many of the latest readings of each asset the neural network (cnn) looks at.",
    )
    candidates: Annotated[list[Candidate], Field(min_length=1)] | None = Field(
        None,
        title="Models to compare",
        description="Models to compare, each at most once: lightgbm (gradient-boosted trees on window "
        "statistics), cnn (a neural network over the latest readings), ensemble (both averaged). "
        "Default: all three.",
    )
    max_epochs: int | None = Field(
        None,
        title="Most training passes",
        ge=1,
        le=10_000,
        description="Most training passes of the neural network per validation fold (default 40, "
        "fewer when the time budget runs out).",
    )
    age_feature: bool = Field(
        True,
        title="Time column is the asset's age",
        description="Use the time column as the asset's age (true when it counts cycles or operating "
        "hours since the asset started; false when it is a date or a clock time).",
    )

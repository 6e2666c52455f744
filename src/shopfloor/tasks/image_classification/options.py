"""The options an image_classification training request may give (``options`` of ``POST /v1/jobs``)."""

from __future__ import annotations

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions


class ImageClassificationOptions(FamilyOptions):
    """Image classification (part image -> defect class): image size and how long the network trains."""

    image_column: str = Field(
        "image",
        title="Image column",
        description="The column of the dataset that holds the images (for an uploaded zip: image)."
    )
    size: int = Field(
        96,
        title="Image size (pixels)",
        ge=16,
        le=512,
        multiple_of=16,
        description="Images are resized to size x size pixels before training (a multiple of 16). "
        "Larger keeps finer defects visible and trains slower.",
    )
    max_epochs: int = Field(
        30,
        title="Most training passes",
        ge=1,
        le=1000,
        description="Most training passes over the images (fewer when patience or the time budget ends "
        "training first).",
    )
    patience: int = Field(
        10,
        title="Patience (passes)",
        ge=1,
        le=1000,
        description="Stop early after this many passes without a better score on the validation images.",
    )
    batch_size: int = Field(
        64,
        title="Batch size",
        ge=2,
        le=1024,
        description="Images per training step (lower it if the server runs out of memory)."
    )
    stability_seeds: int = Field(
        3,
        title="Stability runs",
        ge=0,
        le=10,
        description="Extra training runs on differently drawn validation splits, to report how much the "
        "accuracy varies (0: the main run only).",
    )
    backbone: str | None = Field(
        None,
        title="Pretrained network",
        description="A pretrained network the operator installed, by name, to fine-tune instead of "
        "training a small network from scratch (better with few images). Default: 'default' when the "
        "server has one, else none.",
    )

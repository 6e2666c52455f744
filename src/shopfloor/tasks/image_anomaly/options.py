"""The options an image_anomaly training request may give (``options`` of ``POST /v1/jobs``)."""

from __future__ import annotations

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions


class ImageAnomalyOptions(FamilyOptions):
    """Image anomaly detection: learns what good parts look like; no defect examples needed."""

    image_column: str = Field(
        "image",
        title="Image column",
        description="The column of the dataset that holds the images (for an uploaded zip: image)."
    )
    label_column: str | None = Field(
        None,
        title="Label column",
        description="A column of labels (for an uploaded zip: label, the folder names). With good_label, "
        "only the good parts are learnt from and the other labelled parts measure how well defects are "
        "found. Default: every image is a good part.",
    )
    good_label: str | int | None = Field(
        None,
        title="Good label",
        description="The label of good parts in label_column (e.g. good or OK); needed with label_column.",
    )
    false_alarm_rate: float = Field(
        0.01,
        title="False reject rate",
        gt=0,
        le=0.5,
        description="Share of good parts allowed to be flagged as anomalous (0.01: one in a hundred). "
        "Lower means fewer false rejects and more missed defects.",
    )
    size: int = Field(
        128,
        title="Image size (pixels)",
        ge=32,
        le=512,
        multiple_of=8,
        description="Images are resized to size x size pixels (a multiple of 8); the anomaly map has one "
        "cell per 8 x 8 pixels. Larger finds smaller defects and runs slower.",
    )
    memory_size: int = Field(
        4000,
        title="Reference patches",
        ge=100,
        le=1_000_000,
        description="Image patches of good parts kept as the reference of normal; more is more exact "
        "and slower.",
    )
    backbone: str | None = Field(
        None,
        title="Pretrained network",
        description="A pretrained network the operator installed, by name, to describe the images "
        "instead of texture statistics. Default: 'default' when the server has one, else none.",
    )

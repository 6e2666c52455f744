"""Pretrained ResNet backbones read from a local folder, and a classifier built on one.

A plant drops the weights of a ResNet with basic blocks (torchvision's resnet18 / resnet34
names: ``conv1``, ``bn1``, ``layer1.0.conv1`` ... ``fc``) as ``model.safetensors`` into the
folder named by the ``SHOPFLOOR_VISION_BACKBONE_DIR`` setting (or a job's ``backbone_dir``
option). Nothing is downloaded. :func:`read_resnet` checks the file and returns its arrays;
:func:`resnet_layout` reads the widths and block counts from the tensor shapes, so any depth
and width with that naming fits (tests use a tiny one they build themselves).

The networks built on these weights live in :mod:`shopfloor.vision.net` (classification) and
:mod:`shopfloor.vision.patches` (anomaly patch features); this module needs no PyTorch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput

BACKBONE_FILE = "model.safetensors"
#: The tensors every usable checkpoint has (stages 1-3 feed the anomaly patch features).
_NEEDED = (
    "conv1.weight",
    "bn1.weight",
    "layer1.0.conv2.weight",
    "layer2.0.conv2.weight",
    "layer3.0.conv2.weight",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def backbone_present(folder: str | Path | None) -> bool:
    """Whether ``folder`` holds a backbone file (its content is checked when it is read)."""
    return folder is not None and (Path(folder) / BACKBONE_FILE).is_file()


def read_resnet(folder: str | Path, loc: list[Any]) -> dict[str, np.ndarray]:
    """The float arrays of ``folder``/model.safetensors, checked to be a basic-block ResNet.

    Raises ``InvalidInput`` at ``loc`` when the file is missing, unreadable or not that layout.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(folder) / BACKBONE_FILE
    if not path.is_file():
        raise InvalidInput(
            f"no {BACKBONE_FILE} in {str(folder)!r}", errors=[{"loc": loc, "msg": "not found"}]
        )
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidInput(
            f"{path} is not a safetensors file: {exc}", errors=[{"loc": loc, "msg": "unreadable weights"}]
        ) from None
    missing = [k for k in _NEEDED if k not in state]
    if missing or any(k.endswith("conv3.weight") for k in state):
        msg = "expected a ResNet with basic blocks (torchvision resnet18/34 names)"
        raise InvalidInput(f"{path}: {msg}; missing {missing[:3]}", errors=[{"loc": loc, "msg": msg}])
    return {
        k: np.ascontiguousarray(v, dtype=np.float32)
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    }


def resnet_layout(state: Mapping[str, Any]) -> dict[str, Any]:
    """Stem width, and per stage present (``layer1``, ``layer2``, ...) its block count and width."""
    blocks, widths = [], []
    stage = 1
    while f"layer{stage}.0.conv1.weight" in state:
        n = 0
        while f"layer{stage}.{n}.conv1.weight" in state:
            n += 1
        blocks.append(n)
        widths.append(int(state[f"layer{stage}.0.conv2.weight"].shape[0]))
        stage += 1
    return {"stem": int(state["conv1.weight"].shape[0]), "blocks": blocks, "widths": widths}


def resnet_architecture(state: Mapping[str, Any], in_channels: int, n_classes: int) -> dict[str, Any]:
    """What ``estimator.json`` keeps to rebuild the classifier: the layout of ``state`` and the task."""
    return {
        "kind": "resnet",
        "in_channels": int(in_channels),
        "n_classes": int(n_classes),
        **resnet_layout(state),
    }

"""Pretrained ResNet backbones read from a local folder, and a classifier built on one.

A plant drops the weights of a ResNet with basic blocks (torchvision's resnet18 / resnet34
names: ``conv1``, ``bn1``, ``layer1.0.conv1`` ... ``fc``) as ``model.safetensors`` into the
folder named by the ``SHOPFLOOR_VISION_BACKBONE_DIR`` setting (the backbone named ``default``), or
into a sub-folder of ``SHOPFLOOR_VISION_BACKBONES_DIR`` (the backbone named like the sub-folder).
A job chooses among these by name (``options.backbone``), never by path: :func:`backbone_choices`
lists what the operator allowed and :func:`resolve_backbone` turns a requested name into its
folder, refusing unknown names without showing any server path. Nothing is downloaded.
:func:`read_resnet` checks the file and returns its arrays;
:func:`resnet_layout` reads the widths and block counts from the tensor shapes, so any depth
and width with that naming fits (tests use a tiny one they build themselves).

The networks built on these weights live in :mod:`shopfloor.tasks.image_classification.net`
(classification) and :mod:`shopfloor.tasks.image_anomaly.patches` (anomaly patch features); this
module needs no PyTorch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput
from shopfloor.settings import Settings
from shopfloor.tasks import catalog

BACKBONE_FILE = "model.safetensors"
#: The tensors every usable checkpoint has (stages 1-3 feed the anomaly patch features).
_NEEDED = (
    "conv1.weight",
    "bn1.weight",
    "layer1.0.conv2.weight",
    "layer2.0.conv2.weight",
    "layer3.0.conv2.weight",
)
#: The name of the backbone in ``SHOPFLOOR_VISION_BACKBONE_DIR``: what image jobs use by default.
DEFAULT_BACKBONE = "default"
# A backbone name is a plain folder name: no separators, no "." or "..", nothing hidden.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def backbone_present(folder: str | Path | None) -> bool:
    """Whether ``folder`` holds a backbone file (its content is checked when it is read)."""
    return folder is not None and (Path(folder) / BACKBONE_FILE).is_file()


def valid_backbone_name(name: Any) -> bool:
    """Whether ``name`` could name a backbone: a plain folder name, never a path."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def backbone_choices(default_dir: Path | None, backbones_dir: Path | None) -> dict[str, Path]:
    """The backbones an operator allowed, by name: ``default`` for ``default_dir`` and one per
    sub-folder of ``backbones_dir`` that holds the weights file and has a plain name."""
    choices: dict[str, Path] = {}
    if backbones_dir is not None and backbones_dir.is_dir():
        for folder in sorted(backbones_dir.iterdir()):
            if valid_backbone_name(folder.name) and folder.is_dir() and backbone_present(folder):
                choices[folder.name] = folder
    if backbone_present(default_dir):
        choices[DEFAULT_BACKBONE] = Path(default_dir)  # type: ignore[arg-type]  # present: not None
    return choices


def resolve_backbone(name: Any, choices: Mapping[str, Path], loc: list[Any]) -> Path:
    """The folder of the backbone called ``name``; ``InvalidInput`` at ``loc`` naming the choices
    (never a path) when ``name`` is not a plain name or not one of them."""
    available = ", ".join(sorted(choices)) or "none (the operator has set up no backbone)"
    if not valid_backbone_name(name):
        raise InvalidInput(
            f"options.backbone must be the name of one of the server's backbones, not a path; available: "
            f"{available}",
            errors=[{"loc": loc, "msg": f"not a backbone name; available: {available}"}],
        )
    if name not in choices:
        raise InvalidInput(
            f"no backbone named {name!r} on this server; available: {available}",
            errors=[{"loc": loc, "msg": f"unknown backbone; available: {available}"}],
        )
    return choices[name]


def backbone_folder(name: Any, folder: Path | None) -> Path:
    """The folder an estimator reads its ``backbone`` option from: ``folder``, as the job resolved
    it (:func:`resolve_backbone`); ``InvalidInput`` at ``options.backbone`` when there is none."""
    loc = ["body", "options", "backbone"]
    if not valid_backbone_name(name):
        raise InvalidInput(
            "option 'backbone': must name one of the server's backbones, not a path",
            errors=[{"loc": loc, "msg": "not a backbone name"}],
        )
    if folder is None:
        raise InvalidInput(
            f"option 'backbone': no backbone named {name!r} is set up for this job",
            errors=[{"loc": loc, "msg": "unknown backbone"}],
        )
    return folder


def without_backbone_dir(params: Mapping[str, Any]) -> dict[str, Any]:
    """Saved constructor parameters without ``backbone_dir``, the server path that models saved
    before backbones were chosen by name kept (their weights are in the model, nothing is read)."""
    return {k: v for k, v in params.items() if k != "backbone_dir"}


def read_resnet(folder: str | Path, loc: list[Any], name: str = "") -> dict[str, np.ndarray]:
    """The float arrays of ``folder``/model.safetensors, checked to be a basic-block ResNet.

    Raises ``InvalidInput`` at ``loc`` when the file is missing, unreadable or not that layout;
    the message calls it by the backbone's ``name``, never by its server path.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(folder) / BACKBONE_FILE
    label = f"backbone {name!r}" if name else "the backbone"
    if not path.is_file():
        raise InvalidInput(f"{label} has no {BACKBONE_FILE}", errors=[{"loc": loc, "msg": "not found"}])
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError):
        raise InvalidInput(
            f"{label}: {BACKBONE_FILE} is not a readable safetensors file",
            errors=[{"loc": loc, "msg": "unreadable weights"}],
        ) from None
    missing = [k for k in _NEEDED if k not in state]
    if missing or any(k.endswith("conv3.weight") for k in state):
        msg = "expected a ResNet with basic blocks (torchvision resnet18/34 names)"
        raise InvalidInput(f"{label}: {msg}; missing {missing[:3]}", errors=[{"loc": loc, "msg": msg}])
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


def backbones_of(settings: Settings) -> dict[str, Path]:
    """The backbones this server offers by name (see :func:`backbone_choices`)."""
    return backbone_choices(settings.vision_backbone_dir, settings.vision_backbones_dir)


def named_backbone(task: str, options: dict[str, Any], settings: Settings) -> Path | None:
    """The folder of the backbone a job's (settled) options name, if any."""
    if not catalog.capabilities(task).backbone or options.get("backbone") is None:
        return None
    return resolve_backbone(options["backbone"], backbones_of(settings), ["body", "options", "backbone"])


def attach_backbone(estimator: Any, settings: Settings) -> None:
    """Give an image estimator built from a job's options the folder of the backbone it names."""
    name = estimator.backbone_name()
    if name is None:
        return
    folder = named_backbone(estimator.task, {"backbone": name}, settings)
    if folder is not None:
        estimator.use_backbone(folder)

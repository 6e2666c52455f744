"""A compact residual network for part images, trained from scratch on CPU, and Grad-CAM for it.

:class:`CompactNet` is a small ResNet: a 3x3 stem, four stages of one basic residual block each
(BatchNorm, ReLU; every stage after the first halves the resolution and doubles the width), global
average pooling, dropout and a linear head. Its ``features`` part (stem and stages) can start from
pretrained weights: :func:`load_backbone` reads a safetensors file of a state dict of the same
architecture from a local folder and copies every ``features.*`` tensor whose shape matches, so a
backbone trained for other classes (or saved from a fresh net) fits any head.

:func:`grad_cam` weighs the last stage's activations by the spatial mean of the gradient of the
explained class's logit and keeps the positive part: one map per image, scaled to [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from shopfloor.errors import InvalidInput

BACKBONE_FILE = "backbone.safetensors"
#: Widths of the four stages (the stem has the first one).
WIDTHS = (16, 32, 64, 128)
#: Inputs from this size on are halved by the stem (stride 2): the cost of a step falls fourfold.
STEM_STRIDE_FROM = 64


class Block(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a shortcut (1x1 projection when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class CompactNet(nn.Module):
    """``(n, in_channels, s, s)`` in [0, 1] -> ``(n, n_classes)`` logits.

    ``stem_stride`` 2 halves the input at once (for inputs of 96 px and more); the last stage's
    map is ``s / (8 * stem_stride)`` cells wide.
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        widths: tuple[int, ...] = WIDTHS,
        stem_stride: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(in_channels, widths[0], 3, stem_stride, 1, bias=False),
                nn.BatchNorm2d(widths[0]),
                nn.ReLU(inplace=True),
            )
        ]
        c_in = widths[0]
        for k, width in enumerate(widths):
            layers.append(Block(c_in, width, 1 if k == 0 else 2))
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # centre the [0, 1] input; BatchNorm after the stem does the rest
        return self.head(self.features(x - 0.5))


class Probabilities(nn.Module):
    """The network with a softmax on top: what the ONNX export serves."""

    def __init__(self, net: CompactNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), 1)


def architecture(in_channels: int, n_classes: int, size: int) -> dict[str, Any]:
    """The network settings for an input size (what ``estimator.json`` keeps to rebuild it)."""
    return {
        "in_channels": int(in_channels),
        "n_classes": int(n_classes),
        "widths": list(WIDTHS),
        "stem_stride": 2 if size >= STEM_STRIDE_FROM else 1,
    }


def build_net(arch: dict[str, Any]) -> CompactNet:
    """A freshly initialised :class:`CompactNet` from :func:`architecture`'s settings."""
    return CompactNet(
        int(arch["in_channels"]),
        int(arch["n_classes"]),
        tuple(int(w) for w in arch["widths"]),
        int(arch["stem_stride"]),
    )


def load_backbone(net: CompactNet, folder: str | Path) -> int:
    """Copy the matching ``features.*`` tensors of ``folder/backbone.safetensors`` into ``net``.

    Returns how many tensors were loaded. Raises ``InvalidInput`` (at ``options.backbone_dir``)
    when the file is missing, unreadable, or shares no feature tensor with the network.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    loc = ["body", "options", "backbone_dir"]
    path = Path(folder) / BACKBONE_FILE
    if not path.is_file():
        msg = f"no {BACKBONE_FILE} in {folder}"
        raise InvalidInput(msg, errors=[{"loc": loc, "msg": msg}])
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        msg = f"{path.name} cannot be read: {exc}"
        raise InvalidInput(msg, errors=[{"loc": loc, "msg": msg}]) from None
    own = net.state_dict()
    matching = {
        key: value
        for key, value in tensors.items()
        if key.startswith("features.") and key in own and own[key].shape == value.shape
    }
    if not matching:
        msg = f"{path.name} has no feature weights that fit this network"
        raise InvalidInput(msg, errors=[{"loc": loc, "msg": msg}])
    net.load_state_dict(matching, strict=False)
    return len(matching)


def grad_cam(
    net: CompactNet, x: torch.Tensor, classes: torch.Tensor | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of ``net`` (in eval mode) for a batch.

    Returns ``(maps, proba)``: maps ``(n, h, w)`` in [0, 1] at the last stage's resolution, for
    ``classes`` (default: each image's predicted class), and the softmax probabilities ``(n, k)``.
    """
    net.eval()
    store: dict[str, Any] = {}

    def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        store["act"] = output
        output.register_hook(lambda grad: store.__setitem__("grad", grad))

    handle = net.features[-1].register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = net(x.detach().requires_grad_(True))
            chosen = logits.argmax(1) if classes is None else classes
            net.zero_grad(set_to_none=True)
            logits.gather(1, chosen[:, None]).sum().backward()
    finally:
        handle.remove()
    act, grad = store["act"].detach(), store["grad"].detach()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1))
    peak = cam.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]
    maps = (cam / peak).numpy().astype(np.float32)
    return maps, torch.softmax(logits.detach(), 1).numpy()

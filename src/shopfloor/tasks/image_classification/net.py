"""The classification networks for part images, and Grad-CAM for them.

:class:`CompactNet` is a small ResNet trained from scratch on CPU: a 3x3 stem, four stages of one
basic residual block each (BatchNorm, ReLU; every stage after the first halves the resolution and
doubles the width), global average pooling, dropout and a linear head.

:class:`ResNetClassifier` is a pretrained basic-block ResNet (torchvision names, any depth and
width; see :mod:`shopfloor.tasks.backbones`) with a new head: grey images are repeated to three
channels and inputs normalised with the ImageNet statistics inside the network, so both networks
take the same [0, 1] pixels and export to ONNX alike. :func:`load_pretrained` copies the
backbone's tensors into it.

:func:`grad_cam` weighs the last stage's activations by the spatial mean of the gradient of the
explained class's logit and keeps the positive part: one map per image, scaled to [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from shopfloor.tasks.backbones import IMAGENET_MEAN, IMAGENET_STD

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

    def cam_layer(self) -> nn.Module:
        """The module whose output Grad-CAM weighs: the last stage."""
        return self.features[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # centre the [0, 1] input; BatchNorm after the stem does the rest
        return self.head(self.features(x - 0.5))


class BasicBlock(nn.Module):
    """torchvision's basic block (its tensor names): two 3x3 convolutions, a projected shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNetClassifier(nn.Module):
    """``(n, in_channels, s, s)`` in [0, 1] -> ``(n, n_classes)`` logits on a pretrained ResNet layout."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        stem: int,
        blocks: list[int],
        widths: list[int],
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        stages, c_in = [], stem
        for k, (n, width) in enumerate(zip(blocks, widths, strict=True)):
            stride = 1 if k == 0 else 2
            stages.append(
                nn.Sequential(
                    *[BasicBlock(c_in if b == 0 else width, width, stride if b == 0 else 1) for b in range(n)]
                )
            )
            c_in = width
        self.n_stages = len(stages)
        for k, stage in enumerate(stages):  # torchvision's names: layer1, layer2, ...
            self.add_module(f"layer{k + 1}", stage)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, n_classes)
        )

    def cam_layer(self) -> nn.Module:
        return self.get_submodule(f"layer{self.n_stages}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1((x - self.mean) / self.std))), 3, 2, 1)
        for k in range(self.n_stages):
            x = self.get_submodule(f"layer{k + 1}")(x)
        return self.head(x)


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
        "kind": "compact",
        "in_channels": int(in_channels),
        "n_classes": int(n_classes),
        "widths": list(WIDTHS),
        "stem_stride": 2 if size >= STEM_STRIDE_FROM else 1,
    }


def build_net(arch: dict[str, Any]) -> nn.Module:
    """A freshly initialised network from its settings: :func:`architecture`'s for a
    :class:`CompactNet`, :func:`~shopfloor.tasks.backbones.resnet_architecture`'s for a ResNet."""
    if arch.get("kind") == "resnet":
        return ResNetClassifier(
            int(arch["in_channels"]),
            int(arch["n_classes"]),
            int(arch["stem"]),
            [int(b) for b in arch["blocks"]],
            [int(w) for w in arch["widths"]],
        )
    return CompactNet(
        int(arch["in_channels"]),
        int(arch["n_classes"]),
        tuple(int(w) for w in arch["widths"]),
        int(arch["stem_stride"]),
    )


def load_pretrained(net: nn.Module, state: Mapping[str, np.ndarray]) -> int:
    """Copy every backbone tensor of ``state`` whose name and shape fit into ``net`` (the head
    stays new); returns how many were copied."""
    own = net.state_dict()
    matching = {
        k: torch.from_numpy(np.asarray(v))
        for k, v in state.items()
        if not k.startswith(("fc.", "head.")) and k in own and tuple(own[k].shape) == tuple(v.shape)
    }
    net.load_state_dict(matching, strict=False)
    return len(matching)


def grad_cam(
    net: nn.Module, x: torch.Tensor, classes: torch.Tensor | None = None
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

    handle = net.cam_layer().register_forward_hook(keep)  # type: ignore[operator]
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

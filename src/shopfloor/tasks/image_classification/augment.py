"""Seeded batch augmentation for inspection images with plain torch ops (no torchvision).

Surface defects have no preferred side, so flips both ways are safe; the camera may sit a little
askew (small rotations, edges reflected rather than filled with black), and lighting drifts
(brightness and contrast jitter). Every draw comes from the ``torch.Generator`` passed in, so a
seeded training run sees the same augmented batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class Augment:
    """What to vary: flips (probability 0.5 each), rotation up to ``degrees`` either way,
    brightness shift up to ``brightness`` and contrast factor within ``1 +- contrast``."""

    hflip: bool = True
    vflip: bool = True
    degrees: float = 10.0
    brightness: float = 0.1
    contrast: float = 0.1

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``x``: ``(n, c, h, w)`` float in [0, 1] -> an augmented copy of the same shape, in [0, 1]."""
        n = x.shape[0]
        if n == 0:
            return x.clone()
        out = x
        if self.hflip:
            out = _where(_coin(n, generator), out.flip(3), out)
        if self.vflip:
            out = _where(_coin(n, generator), out.flip(2), out)
        if self.degrees > 0:
            out = rotate(out, _uniform(n, self.degrees, generator))
        if self.contrast > 0 or self.brightness > 0:
            factor = 1 + _uniform(n, self.contrast, generator).view(n, 1, 1, 1)
            shift = _uniform(n, self.brightness, generator).view(n, 1, 1, 1)
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            out = (out - mean) * factor + mean + shift
        return out.clamp(0.0, 1.0) if out is not x else x.clone()


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Each image turned by its angle (degrees, counter-clockwise) about its centre; borders reflected."""
    theta = degrees * (math.pi / 180.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    matrix = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(matrix.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _coin(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) < 0.5


def _uniform(n: int, half_width: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=generator) * 2 - 1) * half_width


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), a, b)

"""Tiny pretrained-looking vision weights that tests build themselves (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def tiny_resnet(directory: Path) -> Path:
    """Random weights in torchvision's resnet18 layout, 4/8/16/32 channels wide, saved as
    ``directory``/model.safetensors (what a plant drops into its backbone folder)."""

    rng = np.random.default_rng(0)
    state: dict[str, np.ndarray] = {}

    def conv(name: str, c_out: int, c_in: int, k: int) -> None:
        state[name] = (rng.normal(size=(c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(np.float32)

    def bn(name: str, c: int) -> None:
        state[f"{name}.weight"], state[f"{name}.bias"] = np.ones(c, np.float32), np.zeros(c, np.float32)
        state[f"{name}.running_mean"], state[f"{name}.running_var"] = (
            np.zeros(c, np.float32),
            np.ones(c, np.float32),
        )
        state[f"{name}.num_batches_tracked"] = np.zeros((), np.int64)

    conv("conv1.weight", 4, 3, 7)
    bn("bn1", 4)
    c_in = 4
    for stage, width in ((1, 4), (2, 8), (3, 16), (4, 32)):
        for block in (0, 1):
            p = f"layer{stage}.{block}"
            conv(f"{p}.conv1.weight", width, c_in, 3)
            bn(f"{p}.bn1", width)
            conv(f"{p}.conv2.weight", width, width, 3)
            bn(f"{p}.bn2", width)
            if block == 0 and c_in != width:
                conv(f"{p}.downsample.0.weight", width, c_in, 1)
                bn(f"{p}.downsample.1", width)
            c_in = width
    state["fc.weight"] = np.zeros((10, 32), np.float32)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(state, str(directory / "model.safetensors"))
    return directory

"""Heatmaps over part images: a coloured overlay PNG and the strongest regions in pixel coordinates.

A heatmap ``grid`` is a small 2-D array (list of lists or ndarray) of weights in [0, 1], row 0 at
the top of the image; each cell covers an equal share of the image's width and height.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

#: Share of the heatmap colour in the blended overlay.
ALPHA = 0.45
# a short blue -> cyan -> yellow -> red ramp; colours between stops are interpolated
_STOPS = np.array([0.0, 0.35, 0.65, 1.0])
_COLOURS = np.array([[0, 0, 160], [0, 200, 220], [250, 220, 0], [220, 20, 20]], dtype=np.float32)


def _grid(grid: Any) -> np.ndarray:
    values = np.asarray(grid, dtype=np.float32)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"a heatmap grid must be a non-empty 2-D array, got shape {values.shape}")
    return np.clip(np.nan_to_num(values), 0.0, 1.0)


def colour(values: np.ndarray) -> np.ndarray:
    """Weights in [0, 1] of shape ``(h, w)`` -> RGB ``uint8`` ``(h, w, 3)`` on the colour ramp."""
    flat = np.clip(values, 0.0, 1.0).ravel()
    rgb = np.stack([np.interp(flat, _STOPS, _COLOURS[:, k]) for k in range(3)], axis=1)
    return rgb.reshape(*values.shape, 3).round().astype(np.uint8)


def upsample(grid: Any, width: int, height: int) -> np.ndarray:
    """The grid resized smoothly (bilinear) to ``(height, width)``, values still in [0, 1]."""
    from PIL import Image

    values = _grid(grid)
    image = Image.fromarray(values).resize((width, height), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)


def overlay_png(image_bytes: bytes, grid: Any, alpha: float = ALPHA) -> str:
    """The image with the heatmap blended over it, as base64 PNG text (the image's own size)."""
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as opened:
        base = np.asarray(opened.convert("RGB"), dtype=np.float32)
    height, width = base.shape[:2]
    heat = colour(upsample(grid, width, height)).astype(np.float32)
    blended = ((1 - alpha) * base + alpha * heat).round().clip(0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(blended).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def top_regions(grid: Any, width: int, height: int, k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` heaviest grid cells (weight > 0), heaviest first, as pixel boxes of the image.

    Each is ``{"x0", "y0", "x1", "y1", "weight"}`` with ``x1``/``y1`` exclusive; cells of equal
    weight keep reading order (row by row).
    """
    values = _grid(grid)
    rows, cols = values.shape
    order = np.argsort(-values.ravel(), kind="stable")
    out = []
    for flat in order[: max(0, k)]:
        weight = float(values.flat[flat])
        if weight <= 0:
            break
        r, c = divmod(int(flat), cols)
        out.append(
            {
                "x0": int(c * width // cols),
                "y0": int(r * height // rows),
                "x1": int((c + 1) * width // cols),
                "y1": int((r + 1) * height // rows),
                "weight": weight,
            }
        )
    return out

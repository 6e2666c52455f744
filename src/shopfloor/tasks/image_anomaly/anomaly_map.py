"""Anomaly maps of part images: the normalised grid, a PNG overlay and the most anomalous regions.

Scale of a normalised map (:func:`normalise`): 0 is the median patch score of held-out good
images (an ordinary patch), 0.5 is the image threshold (a map reaches 0.5 exactly where the
image is flagged), 1 is twice the threshold's distance above that median, or more (clipped).
"""

from __future__ import annotations

import base64
import io

import numpy as np

#: Colour ramp of the overlay (value 0 -> 1): dark blue, cyan, yellow, red.
_RAMP = np.array([[0, 0, 128], [0, 200, 255], [255, 230, 0], [230, 0, 0]], dtype=np.float32)
#: Largest side of the overlay PNG, in pixels (bigger images are shrunk, proportions kept).
MAX_OVERLAY_SIDE = 512


def normalise(scores: np.ndarray, typical: float, threshold: float) -> np.ndarray:
    """Patch scores -> [0, 1] on the scale of this module's docstring (0.5 = threshold)."""
    span = max(float(threshold) - float(typical), 1e-9)
    return np.clip((scores - typical) / (2.0 * span), 0.0, 1.0).astype(np.float32)


def colourise(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> RGB float32 in [0, 255] along :data:`_RAMP`."""
    pos = np.clip(values, 0.0, 1.0) * (len(_RAMP) - 1)
    low = np.minimum(pos.astype(np.int64), len(_RAMP) - 2)
    frac = (pos - low)[..., None]
    return _RAMP[low] * (1.0 - frac) + _RAMP[low + 1] * frac


def upsample(grid: np.ndarray, width: int, height: int) -> np.ndarray:
    """A small grid stretched bilinearly to ``height`` x ``width`` pixels (float32)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(grid, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def overlay_png(data: bytes, grid: np.ndarray) -> str:
    """Base64 PNG of the image (at most :data:`MAX_OVERLAY_SIDE` px a side) under the coloured map;
    the map's opacity grows with its value, so ordinary areas show the part as it is."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as source:
        picture = source.convert("RGB")
    picture.thumbnail((MAX_OVERLAY_SIDE, MAX_OVERLAY_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(picture, dtype=np.float32)
    heat = np.clip(upsample(grid, picture.width, picture.height), 0.0, 1.0)
    alpha = (0.15 + 0.55 * heat)[..., None]
    blended = pixels * (1.0 - alpha) + colourise(heat) * alpha
    out = io.BytesIO()
    Image.fromarray(np.round(blended).astype(np.uint8), mode="RGB").save(out, format="PNG", optimize=False)
    return base64.b64encode(out.getvalue()).decode("ascii")


def regions(grid: np.ndarray, width: int, height: int, top: int = 3, level: float = 0.5) -> list[dict]:
    """The ``top`` most anomalous regions as boxes in pixels of the original ``width`` x ``height``
    image, strongest first: ``{"x0", "y0", "x1", "y1", "weight"}`` with weight = the region's peak
    map value. Regions are connected cells at or above ``level`` (the threshold); when no cell
    reaches it, the cells near the peak (within 80 % of it) stand for the most suspicious spot."""
    from scipy.ndimage import find_objects, label

    peak = float(grid.max()) if grid.size else 0.0
    if peak <= 0.0:
        return []
    cut = level if peak >= level else 0.8 * peak
    labelled, _ = label(grid >= cut, structure=np.ones((3, 3), dtype=bool))
    h, w = grid.shape
    found = []
    for k, box in enumerate(find_objects(labelled), start=1):
        if box is None:
            continue
        rows, cols = box
        found.append(
            {
                "x0": int(np.floor(cols.start * width / w)),
                "y0": int(np.floor(rows.start * height / h)),
                "x1": int(np.ceil(cols.stop * width / w)),
                "y1": int(np.ceil(rows.stop * height / h)),
                "weight": round(float(grid[box][labelled[box] == k].max()), 6),
            }
        )
    found.sort(key=lambda r: (-r["weight"], r["y0"], r["x0"]))
    return found[:top]

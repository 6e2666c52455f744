"""The figures of an image anomaly model's report: score summaries and histograms of held-out good
and defect images, and the training images' sizes and channels (to warn when a request differs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from shopfloor.data.images import ImageInfo


def summary(scores: np.ndarray) -> dict[str, Any] | None:
    if not len(scores):
        return None
    q = np.quantile(scores, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    names = ("min", "p05", "p25", "median", "p75", "p95", "max")
    return {
        "n": int(len(scores)),
        "mean": float(scores.mean()),
        **{k: float(v) for k, v in zip(names, q, strict=True)},
    }


def distributions(held: np.ndarray, defect: np.ndarray, bins: int = 20) -> dict[str, Any]:
    """Summaries of held-out good and defect scores, and histograms on shared bins (for plots)."""
    both = np.r_[held, defect]
    edges = np.histogram_bin_edges(both, bins=bins)
    return {
        "good_holdout": summary(held),
        "defect": summary(defect),
        "histogram": {
            "edges": [float(e) for e in edges],
            "good_holdout": [int(c) for c in np.histogram(held, edges)[0]],
            "defect": [int(c) for c in np.histogram(defect, edges)[0]] if len(defect) else None,
        },
    }


def image_stats(infos: list[ImageInfo]) -> dict[str, Any]:
    widths, heights = np.array([i.width for i in infos]), np.array([i.height for i in infos])
    return {
        "width": int(np.median(widths)),
        "height": int(np.median(heights)),
        "channels": sorted({int(i.channels) for i in infos}),
    }


def image_warnings(info: ImageInfo, train: Mapping[str, Any]) -> list[str]:
    """What makes an image unlike the training images (its score may then mean less)."""
    warns = []
    w, h = int(train["width"]), int(train["height"])
    if abs(np.log((info.width / info.height) / (w / h))) > np.log(1.1):
        warns.append(
            f"image is {info.width}x{info.height}; training images were about {w}x{h} "
            "(a different shape is stretched to the model's square input)"
        )
    elif not 0.5 <= info.width / w <= 2.0:
        warns.append(
            f"image is {info.width}x{info.height}; training images were about {w}x{h} "
            "(a different resolution changes the texture scale)"
        )
    if info.channels not in train["channels"]:
        kind = "colour" if info.channels == 3 else "grey"
        warns.append(f"image is {kind}; the training images were not")
    return warns

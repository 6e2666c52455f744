"""Drift charts render as PNG for every kind of finding, and refuse to draw nothing."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from shopfloor.monitoring import plot
from shopfloor.monitoring.profile import build_profile
from shopfloor.monitoring.report import Window, drift_report


def _size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def test_distributions_of_every_kind_of_finding() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x [mm]": rng.normal(size=500), "y": rng.normal(size=500)})
    frame = frame.assign(k=rng.choice(["a", "b"], 500), t="text")
    columns = [
        {"name": "x [mm]", "type": "numeric"},
        {"name": "y", "type": "numeric"},
        {"name": "k", "type": "categorical"},
        {"name": "t", "type": "text"},
    ]
    profile = build_profile(frame, columns, embeddings={"t": rng.normal(size=(500, 4))})
    window = frame.assign(**{"x [mm]": frame["x [mm]"] + 1})
    report = drift_report(profile, Window(window, embeddings={"t": rng.normal(1, 1, size=(200, 4))}))
    kinds = {f.kind for f in report.movers()}
    assert kinds == {"numeric", "categorical", "embedding", "together"}
    width, height = _size(plot.distributions_png(report.movers(), title=report.summary))
    assert width > 1000 and height > 1000
    assert _size(plot.distributions_png(report.movers()[:1])) < (width, height)
    with pytest.raises(ValueError):
        plot.distributions_png([])


def test_timeline_marks_drifted_windows() -> None:
    points = [
        plot.TimelinePoint(f"rows {i * 500 + 1}-{(i + 1) * 500}", {"a": 0.02 * i, "b": 0.05}, i > 3)
        for i in range(8)
    ]
    width, _ = _size(plot.timeline_png(points, min_distance=0.1))
    assert width >= 600
    with pytest.raises(ValueError):
        plot.timeline_png([], min_distance=0.1)

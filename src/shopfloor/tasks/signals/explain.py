"""The spectrum a signal model shows with its answer: the envelope spectrum of a recording with the
shaft speed and the defect orders marked, as data and as an SVG chart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from shopfloor.data.waveform_profile import spectrum_svg
from shopfloor.tasks.signals import features as F

MAX_POINTS = 400
SPECTRUM_WINDOWS = 16


def spectrum_view(
    values: np.ndarray,
    rate: float,
    rpm: float | None,
    orders: Mapping[str, float],
    window: int,
    band: tuple[float, float] | None,
) -> dict[str, Any]:
    """``spectrum`` (frequencies, envelope amplitude, markers) and ``spectrum_svg`` of one channel:
    up to twelve shaft orders (or the highest defect harmonic) when the speed is known, else 1 kHz."""
    block = F.windows(np.asarray(values, dtype=np.float64), window, SPECTRUM_WINDOWS)
    freqs, spec = F.envelope_spectrum(block, rate, band)
    mean = spec.mean(axis=0)
    shaft = rpm / 60 if rpm else None
    top = max(12 * shaft, 1.1 * F.HARMONICS * max(orders.values(), default=0) * shaft) if shaft else 1000.0
    keep = (freqs > 0) & (freqs <= top)
    f, a = freqs[keep], mean[keep]
    if len(f) > MAX_POINTS:  # thinned by keeping each stretch's peak, so defect lines stay visible
        edges = np.linspace(0, len(f), MAX_POINTS + 1).astype(int)
        picks = [
            lo + int(np.argmax(a[lo:hi])) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo
        ]
        f, a = f[picks], a[picks]
    markers = F.defect_markers(rpm, orders, top)
    return {
        "spectrum": {
            "kind": "envelope",
            "frequency_hz": [round(float(v), 3) for v in f],
            "amplitude": [float(f"{v:.5g}") for v in a],
            "markers": markers,
            "rpm": rpm,
        },
        "spectrum_svg": spectrum_svg(
            f, {"envelope": a}, title="Envelope spectrum", markers=markers, y_label="amplitude"
        ),
    }

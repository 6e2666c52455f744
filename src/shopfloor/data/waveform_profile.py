"""The profile of a recording table (:mod:`shopfloor.data.waveforms`): what a vibration analyst checks
before training, and a spectrum chart as SVG that needs no plotting library.

Per channel: durations, sampling rates, recordings that clip (many samples at the peak value, a
saturated sensor or amplifier), DC offsets (mean over RMS) and the average spectrum of each class
(Welch, in dB), plotted together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.data.profile import profile_frame
from shopfloor.data.waveforms import FIXED

SPECTRUM_BINS = 256
#: A recording clips when more than this share of its samples sit within 0.1 % of its peak.
CLIP_SHARE = 0.001
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def clipping_share(values: np.ndarray) -> float:
    """The share of samples at the recording's peak magnitude (within 0.1 %)."""
    peak = float(np.max(np.abs(values))) if len(values) else 0.0
    if peak == 0:
        return 0.0
    return float(np.mean(np.abs(values) >= 0.999 * peak))


def dc_offset(values: np.ndarray) -> float:
    """The mean over the RMS: 0 for a centred signal, 1 for a constant one."""
    rms = float(np.sqrt(np.mean(np.square(values, dtype=np.float64))))
    return float(np.mean(values, dtype=np.float64) / rms) if rms > 0 else 0.0


def welch_db(values: np.ndarray, rate: float, bins: int = SPECTRUM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and power spectral density (dB) of one recording, ``bins + 1`` points."""
    from scipy.signal import welch

    n = min(2 * bins, len(values))
    freqs, power = welch(np.asarray(values, dtype=np.float64), fs=rate, nperseg=n, detrend="constant")
    return freqs, 10 * np.log10(power + 1e-20)


def class_spectra(frame: pd.DataFrame, channel: str, max_per_class: int = 20) -> dict[str, Any]:
    """The mean Welch spectrum of each class on one channel (recordings at the most common rate)."""
    rate = float(frame["sampling_rate"].mode().iloc[0])
    same = frame[frame["sampling_rate"] == rate]
    labels = same["label"].fillna("(no label)").astype(str)
    out: dict[str, list[float]] = {}
    freqs = np.zeros(0)
    for label, rows in same.groupby(labels, sort=True):
        curves = []
        for values in rows[channel].head(max_per_class):
            freqs, db = welch_db(np.asarray(values), rate)
            curves.append(db)
        out[str(label)] = [round(float(v), 2) for v in np.mean(curves, axis=0)]
    return {"sampling_rate": rate, "frequency_hz": [round(float(f), 3) for f in freqs], "db": out}


def recording_profile(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The column profile of a recording table: the fixed columns as any table's, each channel as
    type ``waveform`` with the figures above in its ``stats`` (and ``spectra_svg``, the chart)."""
    columns = {c["name"]: c for c in profile_frame(frame[list(FIXED)])}
    channels = [c for c in frame.columns if c not in FIXED]
    seconds = frame["samples"] / frame["sampling_rate"]
    for channel in channels:
        clip = [clipping_share(np.asarray(v)) for v in frame[channel]]
        dc = [dc_offset(np.asarray(v)) for v in frame[channel]]
        clipped = [r for r, share in zip(frame["recording"], clip, strict=True) if share > CLIP_SHARE]
        offset = [r for r, d in zip(frame["recording"], dc, strict=True) if abs(d) > 0.2]
        spectra = class_spectra(frame, channel)
        columns[channel] = {
            "name": channel,
            "type": "waveform",
            "missing": 0,
            "stats": {
                "recordings": len(frame),
                "duration_s": {
                    "min": round(float(seconds.min()), 3),
                    "median": round(float(seconds.median()), 3),
                    "max": round(float(seconds.max()), 3),
                    "total": round(float(seconds.sum()), 3),
                },
                "sampling_rate_hz": sorted({float(r) for r in frame["sampling_rate"]}),
                "channels": channels,
                "classes": {str(k): int(v) for k, v in frame["label"].value_counts().sort_index().items()},
                "groups": int(frame["group"].nunique()),
                "rpm_known": int(frame["rpm"].notna().sum()),
                "clipping": {"recordings": clipped[:50], "max_share": round(max(clip), 5)},
                "dc_offset": {
                    "recordings": offset[:50],
                    "max_abs": round(float(np.max(np.abs(dc))), 4),
                    "mean": round(float(np.mean(dc)), 4),
                },
                "spectra": spectra,
                "spectra_svg": spectrum_svg(
                    spectra["frequency_hz"], spectra["db"], title=f"{channel}: mean spectrum per class"
                ),
            },
        }
    return [columns[str(c)] for c in frame.columns]


def spectrum_svg(
    freqs: Sequence[float] | np.ndarray,
    curves: Mapping[str, Sequence[float] | np.ndarray],
    *,
    title: str,
    markers: Sequence[Mapping[str, Any]] = (),
    y_label: str = "dB",
    width: int = 640,
    height: int = 300,
) -> str:
    """A line chart of ``curves`` over ``freqs`` (Hz) as SVG text; ``markers`` (``{"name", "hz"}``)
    are drawn as labelled vertical lines (defect frequencies)."""
    left, right, top, bottom = 50, 10, 24, 30
    x = np.asarray(freqs, dtype=float)
    values = [np.asarray(v, dtype=float) for v in curves.values()]
    if not len(x) or not values:
        return ""
    lo = min(float(np.min(v)) for v in values)
    hi = max(float(np.max(v)) for v in values)
    hi = hi if hi > lo else lo + 1.0
    x_max = float(x.max()) or 1.0

    def px(f: float) -> float:
        return left + (width - left - right) * f / x_max

    def py(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">',
        f'<text x="{left}" y="14">{escape(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
        'stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#444"/>',
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end">{x_max:.0f} Hz</text>',
        f'<text x="{left}" y="{height - 8}">0</text>',
        f'<text x="4" y="{top + 8}">{hi:.3g}</text><text x="4" y="{height - bottom}">{lo:.3g}</text>',
        f'<text x="4" y="{(top + height - bottom) / 2}">{escape(y_label)}</text>',
    ]
    for marker in markers:
        hz = float(marker["hz"])
        if 0 <= hz <= x_max:
            parts.append(
                f'<line x1="{px(hz):.1f}" y1="{top}" x2="{px(hz):.1f}" y2="{height - bottom}" '
                'stroke="#999" stroke-dasharray="3,3"/>'
                f'<text x="{px(hz) + 2:.1f}" y="{top + 10}" fill="#555">{escape(str(marker["name"]))}</text>'
            )
    for i, (name, v) in enumerate(zip(curves, values, strict=True)):
        colour = _COLOURS[i % len(_COLOURS)]
        points = " ".join(f"{px(f):.1f},{py(val):.1f}" for f, val in zip(x, v, strict=False))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1" points="{points}"/>')
        parts.append(
            f'<text x="{width - right - 4}" y="{top + 14 * (i + 1)}" text-anchor="end" '
            f'fill="{colour}">{escape(str(name))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)

"""Windows of a recording and the features a vibration analyst reads from them.

Every feature is computed for a block of windows at once (numpy / scipy.signal along axis 1):

* time domain: RMS, kurtosis, skewness, crest factor, peak-to-peak, shape and impulse factors;
* spectrum: relative power in ``BANDS`` equal bands up to Nyquist (log10), centroid and flatness;
* envelope: band-pass (``envelope_band_hz``), Hilbert demodulation, spectrum of the envelope; the
  peak-over-median level in octave bands from 15 Hz, and, with the shaft speed, at each whole
  shaft order 1..10 and at each named defect order (BPFO, BPFI, BSF, FTF as multiples of shaft
  speed: the first three harmonics averaged);
* cepstrum: the highest rahmonic peak and its quefrency, and with the shaft speed the level at
  each defect order's period.

Features that need the shaft speed are NaN for recordings without one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

BANDS = 8
ENV_OCTAVES = 6  # 15-30, 30-60, ... 480-960 Hz
SHAFT_ORDERS = 10
HARMONICS = 3
_EPS = 1e-12


def nan_stat(func: Any, x: np.ndarray, axis: int = 0) -> np.ndarray:
    """``np.nanmedian`` / ``np.nanmean`` where an all-missing column (no shaft speed) gives NaN quietly."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(func(x, axis=axis))


def windows(values: np.ndarray, length: int, most: int) -> np.ndarray:
    """Non-overlapping windows of ``length`` samples, at most ``most`` spread evenly over the
    recording; shape (windows, length) or (windows, channels, length) for a 2-D input."""
    n = values.shape[-1]
    count = n // length
    starts = np.arange(count) * length
    if count > most:
        starts = starts[np.linspace(0, count - 1, most).round().astype(int)]
    return np.stack([values[..., s : s + length] for s in starts]) if count else values[..., :0][None]


def feature_names(channels: Sequence[str], orders: Mapping[str, float]) -> list[str]:
    """The feature columns, in the order :func:`window_features` returns them."""
    names: list[str] = []
    for channel in channels:
        per = [
            "rms",
            "kurtosis",
            "skewness",
            "crest",
            "peak_to_peak",
            "shape_factor",
            "impulse_factor",
            *(f"band_{i + 1}_of_{BANDS}" for i in range(BANDS)),
            "spectral_centroid",
            "spectral_flatness",
            *(f"envelope_{15 * 2**i}_{30 * 2**i}hz" for i in range(ENV_OCTAVES)),
            *(f"envelope_order_{k}" for k in range(1, SHAFT_ORDERS + 1)),
            *(f"envelope_{name}" for name in orders),
            "cepstrum_peak",
            "cepstrum_peak_ms",
            *(f"cepstrum_{name}" for name in orders),
        ]
        names += [f"{channel}.{p}" for p in per] if len(channels) > 1 else per
    return names


def envelope(block: np.ndarray, rate: float, band: tuple[float, float] | None) -> np.ndarray:
    """The Hilbert envelope of each window after a band-pass (default: rate/8 to 3 rate/8)."""
    from scipy.signal import butter, hilbert, sosfiltfilt

    nyq = rate / 2
    low, high = band if band else (rate / 8, 3 * rate / 8)
    low, high = max(low, 1.0), min(high, 0.98 * nyq)
    if low < high and block.shape[1] > 30:
        sos = butter(4, [low / nyq, high / nyq], btype="band", output="sos")
        block = sosfiltfilt(sos, block, axis=1, padlen=min(27, block.shape[1] - 1))
    env = np.abs(hilbert(block, axis=1))
    return env - env.mean(axis=1, keepdims=True)


def envelope_spectrum(
    block: np.ndarray, rate: float, band: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and amplitude of the envelope spectrum of each window (Hann window)."""
    env = envelope(block, rate, band)
    spec = np.abs(np.fft.rfft(env * np.hanning(block.shape[1]), axis=1)) / block.shape[1]
    return np.fft.rfftfreq(block.shape[1], 1 / rate), spec


def _peak_ratio(freqs: np.ndarray, spec: np.ndarray, floor: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """log10 of the highest envelope line in [lo, hi] Hz over the spectrum's median level."""
    mask = (freqs >= lo) & (freqs <= hi)
    if not mask.any():
        return np.full(len(spec), np.nan)
    return np.log10(spec[:, mask].max(axis=1) / floor + _EPS)


def _time_features(block: np.ndarray) -> list[np.ndarray]:
    centred = block - block.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(centred**2, axis=1)) + _EPS
    peak = np.abs(centred).max(axis=1)
    mean_abs = np.abs(centred).mean(axis=1) + _EPS
    z = centred / rms[:, None]
    return [
        np.log10(rms),
        np.mean(z**4, axis=1),
        np.mean(z**3, axis=1),
        peak / rms,
        np.log10(block.max(axis=1) - block.min(axis=1) + _EPS),
        rms / mean_abs,
        peak / mean_abs,
    ]


def _spectral_features(block: np.ndarray, rate: float) -> list[np.ndarray]:
    power = np.abs(np.fft.rfft(block - block.mean(axis=1, keepdims=True), axis=1)) ** 2 + _EPS
    freqs = np.fft.rfftfreq(block.shape[1], 1 / rate)
    total = power.sum(axis=1)
    edges = np.linspace(0, power.shape[1], BANDS + 1).astype(int)
    bands = [
        np.log10(power[:, a:b].sum(axis=1) / total + _EPS) for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    centroid = (power * freqs).sum(axis=1) / total / (rate / 2)
    flatness = np.exp(np.mean(np.log(power), axis=1)) / power.mean(axis=1)
    return [*bands, centroid, flatness]


def _cepstrum(block: np.ndarray) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(block - block.mean(axis=1, keepdims=True), axis=1)) + _EPS
    return np.fft.irfft(np.log(spectrum), axis=1)


def window_features(
    block: np.ndarray,
    rate: float,
    rpm: float | None,
    orders: Mapping[str, float],
    band: tuple[float, float] | None = None,
) -> np.ndarray:
    """Features of each window of one channel, shape (windows, features) (see the module doc)."""
    block = np.asarray(block, dtype=np.float64)
    n_win, n = block.shape
    cols = _time_features(block) + _spectral_features(block, rate)
    freqs, spec = envelope_spectrum(block, rate, band)
    floor = np.median(spec[:, 1:], axis=1) + _EPS
    cols += [_peak_ratio(freqs, spec, floor, 15 * 2**i, 30 * 2**i) for i in range(ENV_OCTAVES)]
    shaft = rpm / 60 if rpm is not None and np.isfinite(rpm) and rpm > 0 else None
    step = rate / n
    for k in range(1, SHAFT_ORDERS + 1):
        cols.append(
            _peak_ratio(freqs, spec, floor, (k - 0.5) * shaft, (k + 0.5) * shaft)
            if shaft
            else np.full(n_win, np.nan)
        )
    for order in orders.values():
        if not shaft:
            cols.append(np.full(n_win, np.nan))
            continue
        hits = [
            _peak_ratio(freqs, spec, floor, h * order * shaft * 0.97 - step, h * order * shaft * 1.03 + step)
            for h in range(1, HARMONICS + 1)
        ]
        cols.append(nan_stat(np.nanmean, np.stack(hits)))
    ceps = _cepstrum(block)
    lo, hi = max(2, int(0.0005 * rate)), max(3, n // 4)
    part = ceps[:, lo:hi]
    cols += [part.max(axis=1), (lo + part.argmax(axis=1)) / rate * 1000]
    for order in orders.values():
        if not shaft:
            cols.append(np.full(n_win, np.nan))
            continue
        q = int(round(rate / (order * shaft)))
        cols.append(ceps[:, max(q - 2, 1) : q + 3].max(axis=1) if q + 3 < n // 2 else np.full(n_win, np.nan))
    return np.column_stack(cols).astype(np.float64)


def recording_features(
    channels: Sequence[np.ndarray],
    rate: float,
    rpm: float | None,
    length: int,
    most: int,
    orders: Mapping[str, float],
    band: tuple[float, float] | None = None,
) -> np.ndarray:
    """Features of the windows of one recording, channels side by side: (windows, features)."""
    parts = [window_features(windows(np.asarray(c), length, most), rate, rpm, orders, band) for c in channels]
    return np.hstack(parts)


def log_spectra(channels: Sequence[np.ndarray], length: int, most: int, bins: int) -> np.ndarray:
    """The CNN's input: each window's log magnitude spectrum pooled to ``bins`` bins, per channel:
    shape (windows, channels, bins)."""
    out = []
    for values in channels:
        block = windows(np.asarray(values, dtype=np.float64), length, most)
        block = block - block.mean(axis=1, keepdims=True)
        mag = np.abs(np.fft.rfft(block * np.hanning(length), axis=1))[:, : length // 2]
        pooled = mag.reshape(len(mag), bins, -1).mean(axis=2)
        out.append(np.log10(pooled + 1e-9))
    return np.stack(out, axis=1).astype(np.float32)


def defect_markers(rpm: float | None, orders: Mapping[str, float], top_hz: float) -> list[dict[str, Any]]:
    """The shaft speed and each defect order's first harmonics in Hz, for the spectrum chart."""
    if rpm is None or not np.isfinite(rpm) or rpm <= 0:
        return []
    shaft = rpm / 60
    marks = [{"name": "1x", "order": 1.0, "hz": round(shaft, 3)}]
    for name, order in orders.items():
        for h in range(1, HARMONICS + 1):
            hz = h * order * shaft
            if hz <= top_hz:
                marks.append(
                    {
                        "name": name if h == 1 else f"{h}x{name}",
                        "order": round(h * order, 4),
                        "hz": round(hz, 3),
                    }
                )
    return marks

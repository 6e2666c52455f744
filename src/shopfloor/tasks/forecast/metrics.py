"""Forecast accuracy: MASE and sMAPE per horizon step, and interval coverage.

MASE divides each absolute error by the series' in-sample mean absolute seasonal difference
(the error of the seasonal naive forecast one season ahead, on the history before the cutoff);
series whose history is constant have no scale and are left out of MASE (and counted).
sMAPE is ``200 |y - f| / (|y| + |f|)`` in percent, 0 where both are 0.
"""

from __future__ import annotations

import numpy as np


def naive_scale(history: np.ndarray, season: int) -> float:
    """Mean absolute ``season``-step difference of ``history`` (NaN when it cannot be computed or is 0)."""
    m = season if len(history) > season else 1
    if len(history) <= m:
        return float("nan")
    scale = float(np.mean(np.abs(history[m:] - history[:-m])))
    return scale if scale > 0 else float("nan")


def scaled_errors(y: np.ndarray, f: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``|y - f| / scale`` row by row: ``y`` and ``f`` are (n, h), ``scale`` is (n,)."""
    return np.abs(y - f) / scale[:, None]


def smape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    denom = np.abs(y) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, 200.0 * np.abs(y - f) / denom, 0.0)
    return out


def summary(y: np.ndarray, f: np.ndarray, scale: np.ndarray) -> dict[str, object]:
    """MASE and sMAPE overall and per horizon step for forecasts ``f`` of ``y`` (n, h)."""
    ok = np.isfinite(scale)
    mase_rows = scaled_errors(y[ok], f[ok], scale[ok])
    sm = smape(y, f)
    return {
        "mase": float(np.mean(mase_rows)) if ok.any() else float("nan"),
        "smape": float(np.mean(sm)),
        "mase_by_step": [float(v) for v in np.mean(mase_rows, axis=0)] if ok.any() else [],
        "smape_by_step": [float(v) for v in np.mean(sm, axis=0)],
        "series_without_scale": int((~ok).sum()),
    }


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of ``y`` inside ``[lo, hi]``."""
    return float(np.mean((y >= lo) & (y <= hi)))

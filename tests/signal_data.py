"""Synthetic vibration recordings for the signal families' tests: a shaft tone and noise, plus, for a
faulty bearing, a decaying 2.5 kHz ring struck at the defect frequency (an order of shaft speed)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd

RATE = 8000
ORDERS = {"BPFO": 3.1, "BPFI": 4.9}
FAULTS = {"normal": None, "outer": ORDERS["BPFO"], "inner": ORDERS["BPFI"]}


def waveform(order: float | None, rpm: float, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.5 * np.sin(2 * np.pi * rpm / 60 * t) + 0.2 * rng.normal(size=t.size)
    if order:
        ring = 2.0 * np.exp(-np.arange(60) / 8) * np.sin(2 * np.pi * 2500 * np.arange(60) / RATE)
        for start in np.arange(0, t[-1], 60 / (order * rpm)):
            i = int(start * RATE)
            m = min(60, t.size - i)
            x[i : i + m] += ring[:m]
    return x.astype(np.float32)


def recordings(per_class: int = 4, seconds: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """The stored recording table: one row per recording, each recording its own group."""
    rows = []
    for c, (label, order) in enumerate(FAULTS.items()):
        for r in range(per_class):
            rpm = 1700.0 + 40 * r
            x = waveform(order, rpm, seconds, seed=seed + 100 * c + r)
            rows.append(
                {
                    "recording": f"{label}/{label}_{r}.npy",
                    "label": label,
                    "group": f"{label}_{r}",
                    "rpm": rpm,
                    "sampling_rate": float(RATE),
                    "samples": x.size,
                    "signal": x,
                }
            )
    return pd.DataFrame(rows)


def record(x: np.ndarray, rpm: float | None = None) -> dict:
    out: dict = {"signal": [float(v) for v in x], "sampling_rate": RATE}
    if rpm is not None:
        out["rpm"] = rpm
    return out


def recordings_zip(per_class: int = 4, seed: int = 0) -> bytes:
    """:func:`recordings` as an upload: one ``.npy`` per recording and a ``labels.csv`` with each
    one's label, group and shaft speed (names and groups prefixed by the seed unless it is 0)."""
    frame = recordings(per_class=per_class, seed=seed)
    prefix = f"s{seed}_" if seed else ""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        lines = ["file,label,group,rpm"]
        for name, x, label, group, rpm in frame[["recording", "signal", "label", "group", "rpm"]].itertuples(
            index=False
        ):
            out = io.BytesIO()
            np.save(out, x)
            file = prefix + name.split("/")[-1]
            zf.writestr(file, out.getvalue())
            lines.append(f"{file},{label},{prefix}{group},{rpm}")
        zf.writestr("labels.csv", "\n".join(lines) + "\n")
    return buffer.getvalue()

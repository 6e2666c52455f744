"""An hourly series with a daily cycle, three spikes and a level shift: what the Azure Anomaly
Detector facade's tests send, with where the faults are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

START = datetime(2026, 3, 1, tzinfo=UTC)
N = 336  # two weeks of hours
SPIKES = (60, 130, 270)  # +5 deviations, -5, +5
SHIFT = 200  # the level steps up by 4 deviations from here on


def values(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hours = np.arange(N)
    v = 50.0 + 3.0 * np.sin(2 * np.pi * hours / 24) + rng.normal(0.0, 0.5, N)
    v[SPIKES[0]] += 5.0
    v[SPIKES[1]] -= 5.0
    v[SPIKES[2]] += 5.0
    v[SHIFT:] += 2.0
    return v


def stamp(i: int) -> str:
    return (START + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def body(vals: np.ndarray | None = None, **options: Any) -> dict[str, Any]:
    """A request body for the series (``options``: granularity, sensitivity ...; hourly by default)."""
    vals = values() if vals is None else vals
    series = [{"timestamp": stamp(i), "value": float(v)} for i, v in enumerate(vals)]
    return {"series": series, "granularity": "hourly", **options}

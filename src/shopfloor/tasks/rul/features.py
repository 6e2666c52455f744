"""Remaining-useful-life inputs: targets from run-to-failure histories, sensor scaling, windows.

Everything here is causal: the features and the network window of a row depend only on
that row and the rows of the same asset before it, never on more than the last
``max(FEATURE_WINDOWS)`` (features) or ``window`` (network) rows. So a prediction from an
asset's recent history equals the one made on its whole history at the same row, as long
as the recent history is that long; a shorter one is taken as the asset's whole life.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from shopfloor.data.series import SeriesSpec

#: Rolling window lengths (rows) of the gradient-boosting features.
FEATURE_WINDOWS = (5, 10, 20, 30)
#: A sensor whose most frequent value fills at least this share of the training rows carries no signal.
NEAR_CONSTANT_SHARE = 0.995
NS_PER_HOUR = 3.6e12


def time_kind(values: pd.Series) -> str:
    """The time column's kind: "numeric" for numbers (cycles, hours), "datetime" for timestamps."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    numeric = pd.to_numeric(values, errors="coerce")
    return "numeric" if numeric.notna().sum() == values.notna().sum() else "datetime"


def derive_targets(frame: pd.DataFrame, spec: SeriesSpec, kind: str, cap: float | None) -> np.ndarray:
    """Per row: time until the asset's last observation (cycles, or hours for timestamps), capped.

    ``frame`` is validated by ``check_history`` (time as floats: numbers or epoch nanoseconds).
    The cap makes the target piecewise linear: constant ``cap`` early in life, then falling to 0.
    """
    times = frame[spec.time].to_numpy(float)
    last = frame.groupby(spec.asset, sort=False)[spec.time].transform("max").to_numpy(float)
    remaining = last - times
    if kind == "datetime":
        remaining = remaining / NS_PER_HOUR
    return np.minimum(remaining, cap) if cap is not None else remaining


def usable_sensors(frame: pd.DataFrame, sensors: Sequence[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Sensors that vary in training, and ``{"name", "reason"}`` for each constant one left out."""
    kept, dropped = [], []
    for sensor in sensors:
        values = frame[sensor].dropna()
        share = values.value_counts(normalize=True).iloc[0] if len(values) else 1.0
        if values.nunique() < 2 or float(values.std()) == 0.0:
            dropped.append({"name": sensor, "reason": "constant in the training data"})
        elif share >= NEAR_CONSTANT_SHARE:
            dropped.append(
                {"name": sensor, "reason": f"near-constant: one value in {share:.1%} of the training rows"}
            )
        else:
            kept.append(sensor)
    return kept, dropped


@dataclass(frozen=True)
class Scaler:
    """Z-score scaling with training statistics; a missing value is carried forward, else the mean."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        std = np.nanstd(values, axis=0)
        return cls(tuple(np.nanmean(values, axis=0).tolist()), tuple(np.where(std > 0, std, 1.0).tolist()))

    def transform(self, values: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Scaled ``values`` (rows of assets ``groups``, each asset's rows in time order)."""
        scaled = (values - np.asarray(self.mean)) / np.asarray(self.std)
        if np.isnan(scaled).any():
            frame = pd.DataFrame(scaled)
            scaled = frame.groupby(groups, sort=False).ffill().fillna(0.0).to_numpy()
        return scaled

    def to_json(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scaler:
        return cls(tuple(map(float, data["mean"])), tuple(map(float, data["std"])))


def feature_inputs(n_sensors: int, age: bool, windows: Sequence[int] = FEATURE_WINDOWS) -> np.ndarray:
    """The input (sensor index, the age last) of each model-matrix column, to add contributions up."""
    per_sensor = np.repeat(np.arange(n_sensors), 1 + 3 * len(windows))
    return np.append(per_sensor, [n_sensors] if age else []).astype(int)


def window_features(x: np.ndarray, windows: Sequence[int] = FEATURE_WINDOWS) -> np.ndarray:
    """Features of every row of one asset's scaled history ``x`` (rows, sensors).

    Over the last ``w`` rows (fewer at the start of a history): the mean, the standard
    deviation and the least-squares slope per row; plus the last value.
    """
    n, c = x.shape
    span = max(windows)
    padded = np.vstack([np.full((span - 1, c), np.nan), x])
    win = sliding_window_view(padded, span, axis=0)  # (n, c, span)
    blocks: list[np.ndarray] = []
    stats: dict[str, list[np.ndarray]] = {"mean": [], "std": [], "slope": []}
    for w in windows:
        sub = win[:, :, span - w :]
        valid = ~np.isnan(sub)
        count = valid.sum(axis=-1)
        vals = np.where(valid, sub, 0.0)
        mean = vals.sum(axis=-1) / count
        dev = np.where(valid, sub - mean[..., None], 0.0)
        stats["std"].append(np.sqrt((dev**2).sum(axis=-1) / count))
        stats["mean"].append(mean)
        t = np.arange(w, dtype=float)
        t_mean = (valid * t).sum(axis=-1) / count
        t_dev = np.where(valid, t - t_mean[..., None], 0.0)
        t_var = (t_dev**2).sum(axis=-1)
        slope = np.divide((t_dev * dev).sum(axis=-1), t_var, out=np.zeros_like(t_var), where=t_var > 0)
        stats["slope"].append(slope)
    for j in range(c):
        blocks.append(x[:, j : j + 1])
        for stat in ("mean", "std", "slope"):
            blocks.append(np.column_stack([s[:, j] for s in stats[stat]]))
    return np.hstack(blocks)


def sequence_windows(x: np.ndarray, window: int) -> np.ndarray:
    """The last ``window`` rows ending at each row of one asset's history, float32 (rows, window, sensors).

    The start of a history is left-padded by repeating its first row.
    """
    padded = np.vstack([np.repeat(x[:1], window - 1, axis=0), x])
    return np.ascontiguousarray(
        sliding_window_view(padded, window, axis=0).transpose(0, 2, 1), dtype=np.float32
    )


def input_values(frame: pd.DataFrame, spec: SeriesSpec, age: bool) -> np.ndarray:
    """The model inputs of each row: the sensors, then the time value as the asset's age if ``age``."""
    return frame[[*spec.sensors, *([spec.time] if age else [])]].to_numpy(float)


@dataclass
class Prepared:
    """A validated history, scaled, with its rows grouped by asset.

    ``scaled`` holds the sensors and, when ``age`` is set, the scaled time value as a last
    column. ``codes`` numbers the assets in order of first appearance; ``position`` is each
    row's index within its asset; ``length`` its asset's number of rows.
    """

    scaled: np.ndarray
    age: bool
    codes: np.ndarray
    position: np.ndarray
    length: np.ndarray
    names: list[Any]

    @classmethod
    def build(cls, frame: pd.DataFrame, spec: SeriesSpec, scaler: Scaler, age: bool) -> Prepared:
        codes, names = pd.factorize(frame[spec.asset], sort=False)
        position = pd.Series(codes).groupby(codes).cumcount().to_numpy()
        length = np.bincount(codes)[codes]
        scaled = scaler.transform(input_values(frame, spec, age), codes)
        return cls(scaled, age, codes, position, length, list(names))

    def blocks(self) -> list[np.ndarray]:
        """Row indices of each asset, in time order."""
        order = np.argsort(self.codes, kind="stable")
        return np.split(order, np.cumsum(np.bincount(self.codes))[:-1])

    def features(self, rows: np.ndarray | None = None) -> np.ndarray:
        """:func:`window_features` and the age at every row, or at ``rows`` in their order."""
        if not self.age:
            return self._per_asset(window_features, rows)
        return self._per_asset(lambda x: np.column_stack([window_features(x[:, :-1]), x[:, -1]]), rows)

    def sequences(self, window: int, rows: np.ndarray | None = None) -> np.ndarray:
        """:func:`sequence_windows` at every row, or at ``rows`` in their order."""
        return self._per_asset(lambda x: sequence_windows(x, window), rows)

    def _per_asset(self, fn: Callable[[np.ndarray], np.ndarray], rows: np.ndarray | None) -> np.ndarray:
        """``fn`` of each asset's scaled rows, gathered at ``rows`` (in that order) or at every row."""
        wanted = np.ones(len(self.codes), bool) if rows is None else np.isin(np.arange(len(self.codes)), rows)
        parts, index = [], []
        for block in self.blocks():
            keep = wanted[block]
            if keep.any():
                parts.append(fn(self.scaled[block])[keep])
                index.append(block[keep])
        found = np.concatenate(index)
        out = np.concatenate(parts)[np.argsort(found, kind="stable")]
        return out if rows is None else out[np.searchsorted(np.sort(found), rows)]

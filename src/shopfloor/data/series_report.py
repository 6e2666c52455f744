"""What a sensor history looks like at upload: sampling, gaps, dead sensors, operating modes.

A sensor dataset is a long table (one row per asset and time). Before anyone trains on it,
the engineer should see how often each sensor is sampled, where the record has holes, which
sensors never move (C-MAPSS FD001 has seven: nothing can be learnt from them, so models drop
them), and whether the operating-condition settings fall into a few distinct modes (then the
sensors read differently in each mode and should be compared within a mode).

The figures go into the dataset's column profile: each column gains a ``role`` (asset, time,
setting, sensor) and a ``series`` dict; :func:`series_summary` derives the dataset-level view
back from the stored profile, so nothing else needs storing.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.data.series import Locator, SeriesSpec, file_rows, time_values
from shopfloor.errors import InvalidDataset, InvalidInput

logger = logging.getLogger(__name__)

#: A step between two points of an asset longer than this many median intervals is a gap.
GAP_FACTOR = 1.5
#: Spread below this fraction of the largest magnitude is floating-point noise around a constant.
RELATIVE_STD = 1e-9
#: A sensor is near-constant when this share of its values is one value and the rest lie
#: within ``NEAR_STEPS`` steps of its resolution (FD001's s6: 21.61, sometimes 21.60).
DOMINANT_SHARE = 0.95
NEAR_STEPS = 2
MAX_MODES = 8
#: Below this silhouette the settings are one cloud (noise around one condition), not modes.
MIN_SILHOUETTE = 0.7
MODE_SAMPLE = 5_000
SILHOUETTE_SAMPLE = 2_000
NANOSECONDS = 1e9


def check_settings(
    frame: pd.DataFrame,
    settings: list[str],
    *,
    where: Locator = file_rows,
    error: type[InvalidInput] = InvalidDataset,
) -> None:
    """Settings columns must hold finite numbers (missing values allowed, not a column of nothing)."""
    for name in settings:
        raw = frame[name]
        if raw.isna().all():
            raise error(
                f"setting {name!r} has no value at all",
                errors=[{"loc": where(None, name), "msg": "no value"}],
            )
        numeric = raw if pd.api.types.is_numeric_dtype(raw) else pd.to_numeric(raw, errors="coerce")
        bad = ((numeric.isna() & raw.notna()) | np.isinf(numeric.astype(float))).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise error(
                f"setting {name!r} has the value {raw.iloc[i]!r} at row {i + 1}; "
                "operating settings must be finite numbers",
                errors=[{"loc": where(i, name), "msg": "expected a finite number"}],
            )


def series_report(frame: pd.DataFrame, spec: SeriesSpec, settings: list[str]) -> dict[str, dict[str, Any]]:
    """``{column: {"role": ..., "series": {...}}}`` for the asset, time, settings and sensor columns.

    ``frame`` is the table as uploaded, already accepted by
    :func:`~shopfloor.data.series.check_history` for ``spec`` and by :func:`check_settings`.
    Numeric time is counted in its own unit, called cycles; timestamps in seconds.

    * asset: ``assets``, ``points_per_asset`` ({min, median, max});
    * time: ``interval`` and ``unit`` (median step within assets), ``gaps`` (steps over
      ``GAP_FACTOR`` intervals) and ``largest_gap``;
    * sensor: the same spacing over the rows where the sensor has a value, ``missing``;
    * setting: ``operating_modes`` ({k, columns, silhouette, modes: [{centre, share}]}, modes
      listed only when k > 1), shared by every setting column.

    Every ``series`` dict has ``dropped`` (a constant or near-constant column), ``reason``
    (why, or None) and ``notes`` (other readable observations).
    """
    codes = pd.factorize(frame[spec.asset])[0]
    order = np.argsort(codes, kind="stable")  # each asset's rows together, in time order
    times, unit = _time_axis(frame[spec.time], spec.time)
    every = np.ones(len(frame), dtype=bool)
    clock = _spacing(codes, times, every, order, unit)
    report: dict[str, dict[str, Any]] = {
        spec.asset: {"role": "asset", "series": _asset_figures(frame[spec.asset])},
        spec.time: {"role": "time", "series": {**clock, **_verdict(None), "notes": _gap_notes(clock)}},
    }
    for sensor in spec.sensors:
        values = pd.to_numeric(frame[sensor], errors="coerce").to_numpy(dtype=float)
        present = ~np.isnan(values)
        spacing = _spacing(codes, times, present, order, unit)
        notes = _sensor_notes(spacing, clock, int((~present).sum()), len(frame))
        figures = {**spacing, "missing": int((~present).sum()), **_verdict(constancy(values)), "notes": notes}
        report[sensor] = {"role": "sensor", "series": figures}
    verdicts = {name: constancy(pd.to_numeric(frame[name]).to_numpy(dtype=float)) for name in settings}
    moving = [name for name in settings if verdicts[name] is None]
    modes = operating_modes(frame[moving].apply(pd.to_numeric)) if settings else None
    for name in settings:
        notes = _mode_notes(modes) if modes else []
        report[name] = {
            "role": "setting",
            "series": {**_verdict(verdicts[name]), "notes": notes, "operating_modes": modes},
        }
    return report


def constancy(values: np.ndarray) -> str | None:
    """Why these numbers are constant or near-constant (a readable reason), or None if they vary."""
    values = values[~np.isnan(values)]
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= 1:
        return f"constant: every value is {_num(distinct[0])}" if len(distinct) else "no value"
    scale = max(abs(distinct[0]), abs(distinct[-1]))
    std = float(values.std())
    if std <= RELATIVE_STD * scale:
        return f"near-constant: its spread (std {std:.3g}) is negligible against values of {scale:.6g}"
    resolution = float(np.diff(distinct).min())
    spread = float(distinct[-1] - distinct[0])
    share = counts.max() / len(values)
    if share >= DOMINANT_SHARE and spread <= NEAR_STEPS * resolution * (1 + 1e-6):
        return (
            f"near-constant: {share:.1%} of its values are {_num(distinct[counts.argmax()])} and the rest "
            f"differ by at most {_num(spread)} (its resolution is {_num(resolution)})"
        )
    return None


def operating_modes(settings: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Cluster the operating settings; ``{"k", "columns", "silhouette", "modes"}``.

    KMeans on the standardised settings of a sample, for k in 2..``MAX_MODES``; the k with the
    best silhouette wins if that silhouette reaches ``MIN_SILHOUETTE``, else there is one mode
    (k = 1, ``modes`` empty). For k > 1 each mode has its ``centre`` (in the settings' units)
    and ``share`` of the rows, largest share first. Rows with a missing setting are left out.
    """
    columns = [str(c) for c in settings.columns]
    one = {"k": 1, "columns": columns, "silhouette": None, "modes": []}
    points = settings.dropna().to_numpy(dtype=float)
    if not columns or len(points) < 3:
        return one
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    mean, std = points.mean(axis=0), points.std(axis=0)
    scaled = (points - mean) / np.where(std > 0, std, 1.0)
    rng = np.random.default_rng(seed)
    sample = scaled[rng.permutation(len(scaled))[:MODE_SAMPLE]]
    judged = slice(0, SILHOUETTE_SAMPLE)  # the sample is shuffled: its head is a random subset
    best: tuple[float, Any] | None = None
    # A few thousand points in a handful of dimensions: one thread is faster than waking a pool,
    # and the upload already runs in the server's thread pool.
    with threadpool_limits(1):
        for k in range(2, min(MAX_MODES, len(np.unique(sample, axis=0))) + 1):
            model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(sample)
            labels = model.labels_[judged]
            if not 2 <= len(np.unique(labels)) < len(labels):  # silhouette is undefined here
                continue
            score = float(silhouette_score(sample[judged], labels))
            logger.debug("operating modes: k=%d silhouette %.3f", k, score)
            if best is None or score > best[0]:
                best = (score, model)
    if best is None:
        return one
    score, model = best
    if score < MIN_SILHOUETTE:
        return {**one, "silhouette": round(score, 4)}
    shares = np.bincount(model.predict(scaled), minlength=model.n_clusters) / len(scaled)
    centres = model.cluster_centers_ * np.where(std > 0, std, 1.0) + mean
    modes = [
        {
            "centre": {c: _round(v) for c, v in zip(columns, centres[i], strict=True)},
            "share": round(float(shares[i]), 4),
        }
        for i in np.argsort(-shares, kind="stable")
    ]
    return {"k": int(model.n_clusters), "columns": columns, "silhouette": round(score, 4), "modes": modes}


def annotate(profile: list[dict[str, Any]], report: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The column profile with each reported column's ``role`` and ``series`` added."""
    return [{**column, **report.get(column["name"], {})} for column in profile]


def series_summary(profile: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The dataset-level view of a sensor dataset, derived from its stored profile; None otherwise."""
    by_role: dict[str, list[dict[str, Any]]] = {}
    for column in profile:
        if column.get("role"):
            by_role.setdefault(column["role"], []).append(column)
    if "asset" not in by_role or "time" not in by_role:
        return None
    asset, time = by_role["asset"][0], by_role["time"][0]
    settings, sensors = by_role.get("setting", []), by_role.get("sensor", [])
    modes = settings[0]["series"].get("operating_modes") if settings else None
    notes = [
        *asset["series"]["notes"],
        *time["series"]["notes"],
        *(settings[0]["series"]["notes"] if settings else []),
    ]
    notes += [
        f"{c['name']}: {note}" for c in sensors if not c["series"]["dropped"] for note in c["series"]["notes"]
    ]
    return {
        "asset_column": asset["name"],
        "time_column": time["name"],
        "settings_columns": [c["name"] for c in settings],
        "assets": asset["series"]["assets"],
        "points_per_asset": asset["series"]["points_per_asset"],
        "interval": {"value": time["series"]["interval"], "unit": time["series"]["unit"]},
        "sensors": [c["name"] for c in sensors if not c["series"]["dropped"]],
        "dropped": [
            {"name": c["name"], "reason": c["series"]["reason"]}
            for c in [*settings, *sensors]
            if c["series"]["dropped"]
        ],
        "operating_modes": modes["k"] if modes else None,
        "notes": notes,
    }


def _time_axis(raw: pd.Series, name: str) -> tuple[np.ndarray, str]:
    """The time as floats, in cycles (numbers) or seconds (timestamps), and that unit."""
    values = time_values(raw, name, file_rows).to_numpy(dtype=float)
    numeric = not pd.api.types.is_datetime64_any_dtype(raw) and (
        pd.to_numeric(raw, errors="coerce").notna().sum() == raw.notna().sum()
    )
    return (values, "cycles") if numeric else (values / NANOSECONDS, "seconds")


def _spacing(
    codes: np.ndarray, times: np.ndarray, mask: np.ndarray, order: np.ndarray, unit: str
) -> dict[str, Any]:
    """Median step within assets over the masked rows, and the steps longer than ``GAP_FACTOR`` of it."""
    keep = order[mask[order]]
    same = codes[keep][1:] == codes[keep][:-1]
    steps = np.diff(times[keep])[same]
    if len(steps) == 0:
        return {"interval": None, "unit": unit, "gaps": 0, "largest_gap": None}
    interval = float(np.median(steps))
    gaps = steps[steps > GAP_FACTOR * interval]
    largest = _round(gaps.max()) if len(gaps) else None
    return {"interval": _round(interval), "unit": unit, "gaps": int(len(gaps)), "largest_gap": largest}


def _asset_figures(assets: pd.Series) -> dict[str, Any]:
    counts = assets.groupby(assets, sort=False).size().to_numpy()
    notes = ["one asset only: training needs several, to hold whole assets out"] if len(counts) == 1 else []
    return {
        "assets": int(len(counts)),
        "points_per_asset": {
            "min": int(counts.min()),
            "median": _round(np.median(counts)),
            "max": int(counts.max()),
        },
        **_verdict(None),
        "notes": notes,
    }


def _verdict(reason: str | None) -> dict[str, Any]:
    return {"dropped": reason is not None, "reason": reason}


def _gap_notes(spacing: dict[str, Any]) -> list[str]:
    if not spacing["gaps"]:
        return []
    unit = spacing["unit"]
    return [
        f"{spacing['gaps']} gap(s) in the time index (steps over {GAP_FACTOR:g} x the median interval of "
        f"{_num(spacing['interval'])} {unit}); the largest is {_num(spacing['largest_gap'])} {unit}"
    ]


def _sensor_notes(spacing: dict[str, Any], clock: dict[str, Any], missing: int, rows: int) -> list[str]:
    """What sets this sensor apart from the table's clock: sparser sampling, its own gaps, missing values."""
    notes = []
    interval, base = spacing["interval"], clock["interval"]
    if interval is not None and base is not None and interval > GAP_FACTOR * base:
        notes.append(
            f"sampled every {_num(interval)} {spacing['unit']}, sparser than the table's rows ({_num(base)})"
        )
    elif spacing["gaps"] > clock["gaps"]:
        notes += _gap_notes(spacing)
    if missing:
        notes.append(f"missing in {missing} of {rows} rows ({missing / rows:.1%})")
    return notes


def _mode_notes(modes: dict[str, Any]) -> list[str]:
    if modes["k"] == 1:
        return []
    columns = ", ".join(modes["columns"])
    return [
        f"{modes['k']} operating modes in {columns} (silhouette {modes['silhouette']:.2f}): "
        "sensors read differently in each mode; compare them within a mode"
    ]


def _round(value: Any) -> float:
    """Six significant digits: enough for an engineer, stable in JSON."""
    return float(f"{float(value):.6g}")


def _num(value: Any) -> str:
    return f"{float(value):g}"

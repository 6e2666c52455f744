"""The candidate forecasters: statistical models from statsforecast and a global boosted model.

Every candidate answers the same call: ``forecast(histories, h)`` -> ``(n_series, h)`` array, from
the series' histories (each a 1-d array, oldest first, regular periods). Statistical candidates
(seasonal naive, AutoETS, AutoARIMA, Theta; Croston, IMAPA and TSB for intermittent demand) are
fitted per series by statsforecast in one call for the whole panel. ``global_gbm`` is one LightGBM
model across all series on scaled lags, rolling statistics, the position in the season and
calendar features, forecasting recursively.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.threads import job_threads

logger = logging.getLogger(__name__)

#: Order in which candidates are tried when the time budget cannot hold them all (cheapest and most
#: often useful first; seasonal naive is the reference and always runs).
ORDER = (
    "seasonal_naive",
    "auto_ets",
    "theta",
    "global_gbm",
    "croston",
    "imapa",
    "tsb",
    "auto_arima",
)
INTERMITTENT = ("croston", "imapa", "tsb")
LAGS = 12


@dataclass(frozen=True)
class Context:
    """What every candidate may use besides the histories: the season and each series' calendar."""

    season: int
    starts: Sequence[Any] | None = None  # first period of each series (timestamps), None for numbers
    freq: Any = 1
    seed: int = 0
    #: Per series, known-in-advance covariates ``(periods, k)`` from its first period on, future included.
    covariates: Sequence[np.ndarray] | None = None

    def subset(self, rows: Sequence[int]) -> Context:
        """The context of the series at ``rows`` only (for timing on a sample)."""
        pick = lambda seq: None if seq is None else [seq[i] for i in rows]  # noqa: E731
        return Context(self.season, pick(self.starts), self.freq, self.seed, pick(self.covariates))


def _statsforecast_model(name: str, season: int) -> Any:
    from statsforecast import models as m

    return {
        "seasonal_naive": lambda: m.SeasonalNaive(season_length=season, alias=name),
        "auto_ets": lambda: m.AutoETS(season_length=season, alias=name),
        "theta": lambda: m.AutoTheta(season_length=season, alias=name),
        "auto_arima": lambda: m.AutoARIMA(season_length=season, alias=name),
        "croston": lambda: m.CrostonOptimized(alias=name),
        "imapa": lambda: m.IMAPA(alias=name),
        "tsb": lambda: m.TSB(alpha_d=0.2, alpha_p=0.2, alias=name),
    }[name]()


def statistical(
    names: Sequence[str], histories: Sequence[np.ndarray], h: int, ctx: Context
) -> dict[str, np.ndarray]:
    """Forecasts of every statistical candidate in ``names`` for every series. Each series is
    fitted on its own, so inside a job on a Dask cluster the panel is cut into one chunk of series
    per cluster thread, forecast on the cluster (:func:`shopfloor.parallel.fan_out`); the same
    numbers as one statsforecast run for the whole panel."""
    from shopfloor.parallel import fan_out, width

    if not names:
        return {}
    bounds = series_chunks(len(histories), width())
    parts = fan_out(
        partial(_statistical, list(names), h, ctx.season), [histories[a:b] for a, b in bounds], name="series"
    )
    return {n: np.concatenate([p[n] for p in parts]) for n in names}


def series_chunks(n: int, k: int) -> list[tuple[int, int]]:
    """``[start, end)`` of at most ``k`` contiguous chunks of ``n`` series, sizes within one."""
    k = max(1, min(k, n))
    cuts = [round(j * n / k) for j in range(k + 1)]
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _statistical(
    names: list[str], h: int, season: int, histories: Sequence[np.ndarray]
) -> dict[str, np.ndarray]:
    """One statsforecast run over ``histories``: each candidate's ``(len(histories), h)`` forecasts."""
    from statsforecast import StatsForecast

    ids = np.repeat(np.arange(len(histories)), [len(x) for x in histories])
    ds = np.concatenate([np.arange(len(x)) for x in histories])
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y": np.concatenate(histories).astype(float)})
    sf = StatsForecast(models=[_statsforecast_model(n, season) for n in names], freq=1, n_jobs=1)
    out = sf.forecast(df=frame, h=h).sort_values(["unique_id", "ds"])
    return {n: out[n].to_numpy(dtype=float).reshape(len(histories), h) for n in names}


def _calendar(start: Any, freq: Any, n: int) -> np.ndarray:
    """Month and week of year of ``n`` periods from ``start`` (two columns), zeros for period numbers."""
    if start is None or freq == 1:
        return np.zeros((n, 2))
    stamps = pd.date_range(start, periods=n, freq=freq)
    return np.column_stack([stamps.month.to_numpy(), stamps.isocalendar().week.to_numpy(dtype=float)])


def _features(
    window: np.ndarray, position: int, season: int, calendar: np.ndarray, known: np.ndarray
) -> np.ndarray:
    """Features for the period after ``window`` (the last LAGS scaled values, oldest first) at
    ``position`` in its series: lags, rolling statistics, season position, calendar, covariates."""
    lags = window[::-1]  # lag 1 first
    stats = [window[-4:].mean(), window[-8:].mean(), window.mean(), window.std(), float((window == 0).mean())]
    season_pos = [position % season] if season > 1 else [0]
    return np.concatenate([lags, stats, season_pos, calendar, known])


def _scale(history: np.ndarray) -> float:
    level = float(np.mean(np.abs(history[-26:])))
    return level if level > 0 else 1.0


def global_gbm(histories: Sequence[np.ndarray], h: int, ctx: Context) -> np.ndarray:
    """One LightGBM model across all series (each scaled by its recent mean level), recursive."""
    import lightgbm as lgb

    rows, targets, scales = [], [], []
    calendars = []
    covs = ctx.covariates or [np.zeros((len(x) + h, 0)) for x in histories]
    for i, x in enumerate(histories):
        scale = _scale(x)
        scales.append(scale)
        z = np.concatenate([np.zeros(LAGS), x / scale])  # left padding: short series still train
        start = ctx.starts[i] if ctx.starts is not None else None
        cal = _calendar(start, ctx.freq, len(x) + h)
        calendars.append(cal)
        for t in range(max(1, min(4, len(x) - 1)), len(x)):
            rows.append(_features(z[t : t + LAGS], t, ctx.season, cal[t], covs[i][t]))
            targets.append(z[t + LAGS])
    model = lgb.LGBMRegressor(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        objective="l1",
        random_state=ctx.seed,
        n_jobs=job_threads(),
        verbose=-1,
    )
    model.fit(np.asarray(rows), np.asarray(targets))
    windows = [
        np.concatenate([np.zeros(LAGS), x / s])[-LAGS:] for x, s in zip(histories, scales, strict=True)
    ]
    out = np.zeros((len(histories), h))
    for step in range(h):
        feats = np.asarray(
            [
                _features(w, len(x) + step, ctx.season, cal[len(x) + step], cov[len(x) + step])
                for w, x, cal, cov in zip(windows, histories, calendars, covs, strict=True)
            ]
        )
        pred = model.predict(feats)
        out[:, step] = pred
        windows = [np.append(w[1:], p) for w, p in zip(windows, pred, strict=True)]
    return out * np.asarray(scales)[:, None]


def run(names: Sequence[str], histories: Sequence[np.ndarray], h: int, ctx: Context) -> dict[str, np.ndarray]:
    """Forecasts of each named candidate (``(n, h)`` arrays)."""
    stat = [n for n in names if n != "global_gbm"]
    out = statistical(stat, histories, h, ctx)
    if "global_gbm" in names:
        out["global_gbm"] = global_gbm(histories, h, ctx)
    return {n: out[n] for n in names}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    import time

    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0

"""Rolling-origin backtests, model choice and conformal intervals.

The backtest cuts every series at ``n_windows`` origins, ``h`` periods apart, the last one ``h``
periods before its end; at each origin every candidate is fitted on the history before it and
forecasts the next ``h`` periods. Candidates are compared by mean MASE over all windows, series and
steps (seasonal naive is the reference); an ``ensemble`` (mean of the three best other candidates)
is scored from the same window forecasts. The choice is made for the whole panel, or per series
when asked (each series takes the candidate with its lowest backtest error).

Intervals are conformal: the chosen forecasts' errors in the backtest, divided by each series'
naive scale, give per horizon step the quantiles of the scaled error; an interval at level L is
``forecast + scale * [q((1-L)/2), q((1+L)/2)]``. Their coverage is measured honestly: each window's
coverage uses quantiles from the other windows only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.tasks.forecast import candidates as C
from shopfloor.tasks.forecast import metrics as FM

ENSEMBLE_SIZE = 3


@dataclass
class Backtest:
    """Per window: the truth ``(n, h)``, each candidate's forecasts and the series' scales."""

    h: int
    origins: list[int]  # periods held back at each window (h * k)
    truth: list[np.ndarray] = field(default_factory=list)
    scales: list[np.ndarray] = field(default_factory=list)
    forecasts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def stacked(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(truth, forecast, scale per row) of every window, one row per series and window."""
        y = np.concatenate(self.truth)
        f = np.concatenate(self.forecasts[name])
        s = np.concatenate(self.scales)
        return y, f, s


def scales_of(histories: Sequence[np.ndarray], season: int) -> np.ndarray:
    return np.array([FM.naive_scale(x, season) for x in histories])


def fallback_scale(histories: Sequence[np.ndarray], scale: np.ndarray) -> np.ndarray:
    """Scales for intervals: the naive scale, or the mean level (or 1) where it is undefined."""
    level = np.array([float(np.mean(np.abs(x))) or 1.0 for x in histories])
    return np.where(np.isfinite(scale), scale, level)


def run_backtest(
    histories: Sequence[np.ndarray],
    h: int,
    n_windows: int,
    names: Sequence[str],
    ctx: C.Context,
    progress: Callable[[float, str], None] = lambda f, m: None,
) -> Backtest:
    """Fit every candidate at every origin and keep its forecasts."""
    bt = Backtest(h=h, origins=[h * k for k in range(n_windows, 0, -1)])
    bt.forecasts = {n: [] for n in names}
    for w, back in enumerate(bt.origins):
        past = [x[: len(x) - back] for x in histories]
        bt.truth.append(np.stack([x[len(x) - back : len(x) - back + h] for x in histories]))
        bt.scales.append(scales_of(past, ctx.season))
        got = C.run(names, past, h, ctx)
        for n in names:
            bt.forecasts[n].append(np.maximum(got[n], 0.0) if ctx_nonneg(histories) else got[n])
        progress((w + 1) / len(bt.origins), f"backtest window {w + 1} of {len(bt.origins)}")
    return bt


def ctx_nonneg(histories: Sequence[np.ndarray]) -> bool:
    """Whether all demand seen is non-negative (forecasts and intervals are then kept >= 0)."""
    return all(float(np.min(x)) >= 0 for x in histories if len(x))


def add_ensemble(bt: Backtest, scores: dict[str, float]) -> list[str]:
    """Add the ``ensemble`` candidate (mean of the best others) to ``bt``; returns its members."""
    ranked = [
        n for n in sorted(scores, key=lambda n: scores[n]) if n != "seasonal_naive" and np.isfinite(scores[n])
    ]
    members = ranked[:ENSEMBLE_SIZE]
    if len(members) < 2:
        return []
    bt.forecasts["ensemble"] = [
        np.mean([bt.forecasts[m][w] for m in members], axis=0) for w in range(len(bt.origins))
    ]
    return members


def score(bt: Backtest, name: str) -> dict[str, Any]:
    y, f, s = bt.stacked(name)
    return FM.summary(y, f, s)


def per_series_choice(bt: Backtest, names: Sequence[str]) -> np.ndarray:
    """Index into ``names`` of each series' best candidate by mean scaled error over the windows."""
    errs = []
    for n in names:
        e = [np.mean(np.abs(y - f), axis=1) for y, f in zip(bt.truth, bt.forecasts[n], strict=True)]
        errs.append(np.mean(e, axis=0))
    return np.argmin(np.stack(errs), axis=0)


def pick(bt: Backtest, choice: np.ndarray, names: Sequence[str]) -> list[np.ndarray]:
    """Per window, each series' forecast from its own chosen candidate."""
    out = []
    for w in range(len(bt.origins)):
        stack = np.stack([bt.forecasts[n][w] for n in names])
        out.append(stack[choice, np.arange(stack.shape[1])])
    return out


def scaled_residuals(
    bt: Backtest, forecasts: list[np.ndarray], histories_scale: list[np.ndarray]
) -> list[np.ndarray]:
    """Per window: signed errors ``(y - f) / scale`` ``(n, h)``."""
    return [(y - f) / s[:, None] for y, f, s in zip(bt.truth, forecasts, histories_scale, strict=True)]


def quantiles(residuals: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the lower and upper scaled-error quantiles for a central interval at ``level``."""
    n = residuals.shape[0]
    tail = (1 - level) / 2
    # finite-sample correction: a slightly wider quantile so the coverage holds for new points
    lo_q = max(0.0, np.floor((n + 1) * tail) / n) if n else 0.0
    hi_q = min(1.0, np.ceil((n + 1) * (1 - tail)) / n) if n else 1.0
    return np.quantile(residuals, lo_q, axis=0), np.quantile(residuals, hi_q, axis=0)


def coverage_by_window(
    bt: Backtest, forecasts: list[np.ndarray], scales: list[np.ndarray], level: float, nonneg: bool
) -> float:
    """Coverage at ``level`` when each window's interval comes from the other windows' errors."""
    res = scaled_residuals(bt, forecasts, scales)
    hits = []
    for w in range(len(res)):
        others = np.concatenate([r for k, r in enumerate(res) if k != w])
        lo_q, hi_q = quantiles(others, level)
        lo = forecasts[w] + scales[w][:, None] * lo_q
        hi = forecasts[w] + scales[w][:, None] * hi_q
        if nonneg:
            lo = np.maximum(lo, 0.0)
        hits.append((bt.truth[w] >= lo) & (bt.truth[w] <= hi))
    return float(np.mean(np.concatenate(hits)))


def estimate_seconds(
    names: Sequence[str], histories: Sequence[np.ndarray], h: int, ctx: C.Context, fits: int, sample: int = 40
) -> dict[str, float]:
    """Projected seconds of each candidate for ``fits`` fits of the whole panel, timed on a sample.

    The sample is at most ``sample`` series and at most an eighth of the panel (at least 3), so that
    timing a small panel does not cost nearly one more fit of it.
    """
    rng = np.random.default_rng(0)
    size = min(sample, len(histories), max(3, len(histories) // 8))
    idx = rng.choice(len(histories), size=size, replace=False)
    part, part_ctx = [histories[i] for i in idx], ctx.subset(idx.tolist())
    out = {}
    for n in names:
        t0 = time.perf_counter()
        C.run([n], part, h, part_ctx)
        per = (time.perf_counter() - t0) / len(part)
        # the boosted model's cost grows with the panel's rows, not per series: scale it alike
        out[n] = per * len(histories) * fits
    return out


@dataclass(frozen=True)
class Method:
    """How a forecaster makes its forecasts: the candidates it ran, the ensemble's members, the
    chosen model (or the per-series pick from ``pool``) and whether demand stays non-negative."""

    names: list[str]
    members: list[str]
    chosen: str
    pool: list[str]
    per_series: bool
    nonneg: bool


def point_forecasts(
    method: Method, histories: Sequence[np.ndarray], h: int, ctx: C.Context, choice: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The chosen model (and what it is made of) fitted on ``histories``: its point forecasts
    ``(n, h)`` and every forecast made on the way. ``choice``: each series' pick from the pool."""
    if method.per_series:
        needed = method.pool
    else:
        needed = method.members if method.chosen == "ensemble" else [method.chosen]
    final = C.run([n for n in needed if n in method.names], histories, h, ctx)
    if method.nonneg:  # as in the backtest: members clipped before they are averaged
        final = {n: np.maximum(v, 0.0) for n, v in final.items()}
    if method.members and (method.chosen == "ensemble" or "ensemble" in needed):
        final["ensemble"] = np.mean([final[m] for m in method.members], axis=0)
    if method.per_series:
        point = np.stack([final[n] for n in method.pool])[choice, np.arange(len(histories))]
    else:
        point = final[method.chosen]
    return point, final

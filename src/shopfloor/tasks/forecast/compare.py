"""A new forecaster and the one in production on the same periods: those the champion forecast.

A forecaster is its forecasts: the champion holds the forecasts it made from the end of its own
history and can make no other. The periods after that end, where the new data has them, are the
only examples both models can be given without either having seen them: the champion's stored
forecasts are scored there, and so is the new version's method (its chosen model, ensemble or
per-series pick, as its backtest chose) fitted on each series' history up to the same origin and
forecasting the same periods. Both by MASE (the backtest's metric; each series scaled by the naive
error of its history before the origin), over the series the two have in common. New data that does
not continue the champion's series past its end gives no comparable figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shopfloor.tasks.compare import Compared, Incomparable, NewData, Paired, not_fitted_here
from shopfloor.tasks.forecast import backtest as B
from shopfloor.tasks.forecast import metrics as FM


def _origin(periods: pd.Index, last: Any) -> int | None:
    """The position of the champion's last period among a series' periods (None: not there)."""
    try:
        found = periods.get_indexer([pd.Timestamp(last) if isinstance(periods, pd.DatetimeIndex) else last])
    except (TypeError, ValueError):
        return None
    return int(found[0]) if found[0] >= 0 else None


def _figures(errors: list[np.ndarray], ratios: list[np.ndarray], take: np.ndarray) -> dict[str, float]:
    scaled = np.concatenate([errors[i] for i in take])
    sm = np.concatenate([ratios[i] for i in take])
    scaled = scaled[np.isfinite(scaled)]
    return {
        "mase": float(scaled.mean()) if len(scaled) else float("nan"),
        "smape": float(sm.mean()) if len(sm) else float("nan"),
    }


def compare_at_origin(new: Any, champion: Any, data: NewData, min_history: int) -> Compared:
    """See the module docstring; ``new`` keeps ``method_`` (how it forecasts, its context and
    per-series pick) and ``panel_`` (the new data's series) from its fit. ``min_history``: the
    fewest periods a series needs before the origin."""
    found = getattr(new, "method_", None)
    if found is None:
        return not_fitted_here("method and series")
    method, ctx, choice = found
    h = min(new.point_.shape[1], champion.point_.shape[1])
    series = {str(k): g for k, g in new.panel_.frame.groupby("unique_id", sort=False)}
    picked, cuts, truths = [], [], []
    for i, sid in enumerate(new.ids_):
        if sid not in champion.index_:
            continue
        rows = series[sid]
        at = _origin(pd.Index(rows["ds"]), champion.last_[champion.index_[sid]])
        values = rows["y"].to_numpy(float)
        if at is None or at + 1 < min_history or at + 1 >= len(values):
            continue
        picked.append(i)
        cuts.append(values[: at + 1])
        truths.append(values[at + 1 : at + 1 + h])
    if not picked:
        return Incomparable(
            f"no series of the new data continues past the periods {data.champion} forecast from (the "
            "last period of each of its series, with its history before): its forecasts can be scored "
            "only on periods after them; retrain with the history and the periods that followed"
        )
    mine, _ = B.point_forecasts(
        method, cuts, h, ctx.subset(picked), choice[picked] if method.per_series else choice
    )
    theirs = [champion.point_[champion.index_[new.ids_[i]], :h] for i in picked]
    scales = [FM.naive_scale(x, new.season_) for x in cuts]
    sides = []
    for forecasts in (list(mine), theirs):
        errors = [np.abs(y - f[: len(y)]) / s for y, f, s in zip(truths, forecasts, scales, strict=True)]
        ratios = [FM.smape(y, f[: len(y)]) for y, f in zip(truths, forecasts, strict=True)]
        sides.append((errors, ratios))
    periods = sum(len(y) for y in truths)
    return Paired(
        "mase",
        False,
        len(picked),
        "series",
        "series of the new data, on the periods the champion forecast",
        0,
        lambda take: (_figures(*sides[0], take), _figures(*sides[1], take)),
        how=f"{periods} periods in all, after each series' last period in {data.champion}'s history; the new "
        "version's forecasts come from its method fitted on the history up to there.",
    )

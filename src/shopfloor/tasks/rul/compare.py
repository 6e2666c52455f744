"""A new RUL version and the one in production on the same assets of the new data.

Every training asset is held out once by the asset folds, so the new version's figure for an asset
is the prediction of the fold models fitted without it, at every truncation point of its history
(what its report measured); the champion predicts the same points from the same history. Both are
scored against the same derived targets, each asset weighing the same, by the report's metric (the
PHM08 score per asset instead of its sum over assets, which grows with their number and could not
be set against a fold's spread). Assets of data the champion learnt from are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopfloor.evaluation.metrics import TOTALS, greater_is_better
from shopfloor.tasks.compare import (
    Compared,
    NewData,
    Paired,
    all_seen,
    concatenated,
    fresh_units,
    not_fitted_here,
)
from shopfloor.tasks.rul import metrics as R


def compare_assets(new: Any, champion: Any, data: NewData) -> Compared:
    """See the module docstring; ``new`` keeps ``held_out_`` (rows, predictions, targets, weights,
    asset codes of the fold models' held-out points) and ``asset_codes_`` (per row) from its fit."""
    held = getattr(new, "held_out_", None)
    if held is None:
        return not_fitted_here("fold predictions")
    fresh, left_out = fresh_units(new.asset_codes_, data.seen)
    if len(fresh) == 0:
        return all_seen("every asset", data, "retrain with histories of other assets", left_out)
    keep = np.isin(held["codes"], fresh)
    rows, y, w, mine = held["rows"][keep], held["y"][keep], held["weights"][keep], held["pred"][keep]
    whole = np.flatnonzero(np.isin(new.asset_codes_, fresh))  # whole histories: each point needs its past
    found = champion.predict_frame(data.frame.iloc[whole])["rul"].to_numpy(float)
    theirs = found[np.searchsorted(whole, rows)]
    codes = held["codes"][keep]
    points = [np.flatnonzero(codes == a) for a in fresh]
    metric = TOTALS.get(new.report_["metric"], new.report_["metric"])

    def scored(pred: np.ndarray, at: np.ndarray) -> dict[str, float]:
        found = R.regression_metrics(y[at], pred[at], w[at])
        return {k: v for k, v in found.items() if k not in TOTALS}

    def figures(take: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
        at = concatenated(points, take)
        return scored(mine, at), scored(theirs, at)

    return Paired(
        metric,
        greater_is_better(metric),
        len(fresh),
        "assets",
        "assets of the new data",
        left_out,
        figures,
        how="The new version's figure for each asset comes from its fold models fitted without that "
        "asset, at every point of its history, each asset weighing the same.",
    )

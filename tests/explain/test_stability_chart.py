"""Stability chart: metric directions and scales (pure rendering, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.evaluation.metrics import LOWER_IS_BETTER, TOTALS, greater_is_better
from shopfloor.explain import plots
from shopfloor.tasks.rul import metrics as R

PNG = b"\x89PNG\r\n\x1a\n"

# An RUL report: five folds of 20 engines each, 100 engines held out in all.
RUL_SPREAD = {
    "rmse": {"mean": 12.4, "std": 2.3, "values": [10.1, 12.0, 15.9, 11.2, 12.8]},
    "mae": {"mean": 8.6, "std": 1.5, "values": [7.1, 8.2, 10.9, 7.9, 8.9]},
    "phm08_score": {"mean": 59.7, "std": 20.0, "values": [40.0, 55.0, 92.0, 48.0, 63.5]},
    "phm08_per_asset": {"mean": 2.99, "std": 1.0, "values": [2.0, 2.75, 4.6, 2.4, 3.2]},
}
RUL_HOLDOUT = {"rmse": 12.56, "mae": 8.61, "phm08_score": 298.7, "phm08_per_asset": 2.99, "n_assets": 100}


def test_penalties_and_errors_are_lower_is_better() -> None:
    for metric in ("phm08_score", "phm08_per_asset", "rmse", "mae", "log_loss", "brier", "mase"):
        assert not greater_is_better(metric), metric
    for metric in ("f1", "roc_auc", "r2", "coverage_80"):
        assert greater_is_better(metric), metric
    assert set(TOTALS) <= LOWER_IS_BETTER and set(TOTALS.values()) <= LOWER_IS_BETTER


def test_phm08_per_asset_compares_sets_of_different_sizes() -> None:
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 125, 50)
    pred = true + rng.normal(0, 10, 50)
    twice_t, twice_p = np.concatenate([true, true]), np.concatenate([pred, pred])
    one, two = R.regression_metrics(true, pred), R.regression_metrics(twice_t, twice_p)
    assert two["phm08_score"] == pytest.approx(2 * one["phm08_score"])  # a sum: grows with the set
    assert two["phm08_per_asset"] == pytest.approx(one["phm08_per_asset"])  # a mean: does not
    assert one["phm08_per_asset"] == pytest.approx(one["phm08_score"] / 50)


def test_stability_panels_put_the_phm08_penalty_with_the_losses_per_asset() -> None:
    panels = plots.stability_panels(RUL_SPREAD, RUL_HOLDOUT)
    titles = [title for title, _, _ in panels]
    drawn = {m: (title, held) for title, metrics, held in panels for m in metrics}
    assert "phm08_score" not in drawn  # the per-fold sums are replaced by the per-asset mean
    title, held = drawn["phm08_per_asset"]
    assert "lower is better" in title and held == {"phm08_per_asset": 2.99}
    assert not any(t.startswith("scores") for t in titles)  # nothing here is higher-is-better
    assert drawn["rmse"][1] == {"rmse": 12.56}


def test_an_old_report_draws_the_phm08_sum_without_the_held_out_total() -> None:
    spread = {k: v for k, v in RUL_SPREAD.items() if k != "phm08_per_asset"}
    panels = plots.stability_panels(spread, RUL_HOLDOUT)
    (title, metrics, held), = [p for p in panels if "phm08_score" in p[1]]
    assert "lower is better" in title and "another scale" in title
    assert held == {}  # 298.7 (100 engines) beside per-fold sums (20 engines each) would mislead


def test_classification_scores_share_a_panel_and_losses_have_their_own() -> None:
    spread = {m: {"mean": v, "std": 0.01, "values": [v]} for m, v in
              {"f1": 0.8, "roc_auc": 0.97, "log_loss": 0.09, "brier": 0.02}.items()}
    panels = plots.stability_panels(spread, {"f1": 0.82, "log_loss": 0.1})
    assert panels[0][0].startswith("scores (higher") and panels[0][1] == ["f1", "roc_auc"]
    assert [p[1] for p in panels[1:]] == [["log_loss"], ["brier"]]
    assert plots.stability_png(spread, {"f1": 0.82}).startswith(PNG)


def test_rul_stability_png_renders() -> None:
    png = plots.stability_png(RUL_SPREAD, RUL_HOLDOUT, n_splits=5, title="engines v1: stability")
    assert png.startswith(PNG) and len(png) > 5000

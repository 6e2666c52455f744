"""Remaining-useful-life metrics and conformal intervals.

Every function takes optional per-point ``weights``. RUL models are evaluated at many
truncation points of each held-out asset; weighting each point by one over its asset's
number of points gives every asset the same total weight, which is the expected value of
the metric when each asset is queried once at a uniformly random point of its history
(the C-MAPSS test protocol). With unit weights the functions are the usual ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: PHM08 challenge constants: late predictions (d >= 0) are penalised faster than early ones.
PHM08_EARLY, PHM08_LATE = 13.0, 10.0
LEVELS = (0.8, 0.95)


def _weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    return np.ones(n) if weights is None else np.asarray(weights, float)


def rmse(true: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    w = _weights(len(true), weights)
    return float(math.sqrt(np.sum(w * (np.asarray(pred) - np.asarray(true)) ** 2) / w.sum()))


def mae(true: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    w = _weights(len(true), weights)
    return float(np.sum(w * np.abs(np.asarray(pred) - np.asarray(true))) / w.sum())


def phm08_terms(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-point PHM08 penalty of ``d = pred - true``: exp(-d/13) - 1 early, exp(d/10) - 1 late."""
    d = np.asarray(pred, float) - np.asarray(true, float)
    return np.where(d < 0, np.expm1(-d / PHM08_EARLY), np.expm1(d / PHM08_LATE))


def phm08_score(true: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The PHM08 score: the (weighted) sum of :func:`phm08_terms`; lower is better.

    With one prediction per asset and no weights this is the challenge's score, a sum over assets.
    """
    return float(np.sum(_weights(len(true), weights) * phm08_terms(true, pred)))


def phm08_per_asset(true: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The PHM08 penalty per asset: :func:`phm08_score` divided by the weights' sum (the number of
    assets when each asset's points weigh 1 in all); comparable between sets of different sizes."""
    w = _weights(len(true), weights)
    return float(np.sum(w * phm08_terms(true, pred)) / w.sum())


def coverage(
    true: np.ndarray, lower: np.ndarray, upper: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """(Weighted) share of points with ``lower <= true <= upper``."""
    w = _weights(len(true), weights)
    inside = (np.asarray(true) >= np.asarray(lower)) & (np.asarray(true) <= np.asarray(upper))
    return float(np.sum(w * inside) / w.sum())


def weighted_quantile(values: np.ndarray, q: float, weights: np.ndarray | None = None) -> float:
    """The smallest value whose (weighted) cumulative share reaches ``q`` (inverse CDF, no interpolation)."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, float)[order], _weights(len(values), weights)[order]
    cum = np.cumsum(w) / w.sum()
    return float(v[min(int(np.searchsorted(cum, q - 1e-12)), len(v) - 1)])


def regression_metrics(
    true: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, float]:
    """RMSE, MAE, PHM08 score and PHM08 per asset (for weights summing to the number of assets: per
    query of each asset; the score is summed over assets, so compare sets by ``phm08_per_asset``)."""
    return {
        "rmse": rmse(true, pred, weights),
        "mae": mae(true, pred, weights),
        "phm08_score": phm08_score(true, pred, weights),
        "phm08_per_asset": phm08_per_asset(true, pred, weights),
    }


@dataclass(frozen=True)
class ConformalBands:
    """Split-conformal intervals from held-out residuals, per bin of the point estimate.

    Errors of RUL models grow with the estimate (near failure the signal is strong; early
    in life it is flat), so residuals ``true - estimate`` are grouped into bins of the
    estimate (Mondrian conformal) and each bin keeps its own lower and upper quantiles per
    level. ``edges`` are the inner bin boundaries; ``bands[b][level] = [lo, hi]`` offsets.
    """

    edges: tuple[float, ...]
    bands: tuple[dict[str, tuple[float, float]], ...]

    @classmethod
    def calibrate(
        cls,
        pred: np.ndarray,
        true: np.ndarray,
        groups: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        n_bins: int,
        levels: tuple[float, ...] = LEVELS,
    ) -> ConformalBands:
        """Bands from held-out estimates ``pred`` of ``true``; ``groups`` (assets) size the correction.

        Each level is raised by the split-conformal finite-sample factor ``(n + 1) / n``
        with ``n`` the number of assets in the bin (points of one asset are not independent).
        """
        pred, true = np.asarray(pred, float), np.asarray(true, float)
        w = _weights(len(pred), weights)
        cuts = [weighted_quantile(pred, k / n_bins, w) for k in range(1, n_bins)]
        edges = tuple(sorted(set(cuts)))
        which = np.searchsorted(edges, pred, side="right")
        bands = []
        for b in range(len(edges) + 1):
            inside = which == b
            if not inside.any():  # an edge at the smallest estimate leaves its lower bin empty
                inside = np.ones(len(pred), bool)
            resid, wb = true[inside] - pred[inside], w[inside]
            n = max(len(np.unique(groups[inside])), 1)
            band = {}
            for level in levels:
                tail = (1 - min(1.0, level * (n + 1) / n)) / 2
                lo, hi = weighted_quantile(resid, tail, wb), weighted_quantile(resid, 1 - tail, wb)
                band[f"{level:g}"] = (lo, hi)
            bands.append(band)
        return cls(edges, tuple(bands))

    def intervals(self, pred: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds at ``level`` around ``pred``: never below 0, always around the estimate."""
        pred = np.asarray(pred, float)
        offsets = np.array([band[f"{level:g}"] for band in self.bands])
        which = np.searchsorted(self.edges, pred, side="right")
        lower = np.minimum(pred + offsets[which, 0], pred)
        upper = np.maximum(pred + offsets[which, 1], pred)
        return np.maximum(lower, 0.0), upper

    def to_json(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "bands": [{k: list(v) for k, v in b.items()} for b in self.bands]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConformalBands:
        return cls(
            tuple(map(float, data["edges"])),
            tuple({k: (float(v[0]), float(v[1])) for k, v in b.items()} for b in data["bands"]),
        )

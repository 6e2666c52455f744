"""How much a metric moves when the data split changes: mean, std and values over seeds.

The caller supplies ``fit_and_score(train_idx, test_idx) -> {metric: value}``; this module
only draws the splits and summarises, so it works for any task family.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from shopfloor.parallel import SKIPPED, fan_out

logger = logging.getLogger(__name__)

FitAndScore = Callable[[np.ndarray, np.ndarray], Mapping[str, float]]


def seeded_splits(
    n: int, *, n_splits: int = 5, test_size: float = 0.2, seed: int = 0, stratify: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` independent train/test index splits, each drawn with seed ``seed + i``."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    out = []
    for i in range(n_splits):
        strat = stratify if stratify is not None and _can_stratify(stratify, test_size) else None
        tr, te = train_test_split(idx, test_size=test_size, random_state=seed + 1 + i, stratify=strat)
        out.append((np.sort(tr), np.sort(te)))
    return out


def _can_stratify(y: np.ndarray, test_size: float) -> bool:
    _, counts = np.unique(y, return_counts=True)
    return bool(counts.min() >= 2 and len(counts) <= test_size * len(y))


def summarize(values: Mapping[str, Sequence[float]]) -> dict[str, dict[str, Any]]:
    """``{metric: {"mean", "std", "values"}}``; NaN values are left out of mean and std."""
    out: dict[str, dict[str, Any]] = {}
    for name, vals in values.items():
        arr = np.array([v for v in vals if v is not None and math.isfinite(v)], dtype=float)
        out[name] = {
            "mean": float(arr.mean()) if arr.size else float("nan"),
            "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "values": [float(v) for v in vals],
        }
    return out


def stability(
    fit_and_score: FitAndScore,
    n: int,
    *,
    n_splits: int = 5,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: np.ndarray | None = None,
    method: str | None = None,
    on_split: Callable[[int], None] | None = None,
    deadline: float | None = None,
    split_seconds: float = 0.0,
) -> dict[str, Any]:
    """Score the same configuration on ``n_splits`` seeded splits and summarise every metric.

    Returns ``{"method", "n", "metrics": {name: {"mean", "std", "values"}}}``, plus
    ``"skipped"`` (splits not run) when a ``deadline`` (a ``time.perf_counter`` value) stopped
    it: a split is not started when it would end after the deadline, its cost taken as the
    slowest split so far (``split_seconds``, the caller's estimate, before the first).
    ``on_split(i)`` is called before each split (progress; it may raise to cancel). Inside a
    job on a Dask cluster the splits run on the cluster (:func:`~shopfloor.parallel.fan_out`):
    ``fit_and_score`` must then depend only on its arguments and what it closes over.
    """
    splits = seeded_splits(n, n_splits=n_splits, test_size=test_size, seed=seed, stratify=stratify)
    slowest, stopped = split_seconds, False

    def before(i: int) -> bool:
        nonlocal stopped
        # once a split is not started, none after it is (the same splits whatever the pace)
        stopped = stopped or (deadline is not None and time.perf_counter() + slowest > deadline)
        if stopped:
            return False
        if on_split is not None:
            on_split(i)
        return True

    def after(_: int, result: tuple[Mapping[str, float], float]) -> None:
        nonlocal slowest
        slowest = max(slowest, result[1])

    results = fan_out(
        partial(_timed, fit_and_score), splits, before=before, after=after, name="stability-split"
    )
    collected: dict[str, list[float]] = {}
    done = 0
    for result in results:
        if result is SKIPPED:
            continue
        for name, value in result[0].items():
            collected.setdefault(name, []).append(float(value))
        done += 1
    out = {
        "method": method
        or f"{n_splits} seeded {'stratified ' if stratify is not None else ''}"
        f"{round((1 - test_size) * 100)}/{round(test_size * 100)} train/test splits",
        "n": done,
        "metrics": summarize(collected),
    }
    if done < n_splits:
        out["skipped"] = n_splits - done
    return out


def _timed(
    fit_and_score: FitAndScore, split: tuple[np.ndarray, np.ndarray]
) -> tuple[Mapping[str, float], float]:
    """One split's scores and its seconds (a split may run in another process)."""
    started = time.perf_counter()
    scores = fit_and_score(*split)
    return scores, time.perf_counter() - started

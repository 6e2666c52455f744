"""Default window size and thresholds of the drift check, and the correction for many tests at once.

A window is judged by one test per input, one per model output and the tests of the inputs
together (:mod:`shopfloor.monitoring.multivariate`). Checked one by one at 1 %, ten tests would
raise a false alarm on one window in ten of unchanged data; :func:`holm` adjusts the p-values so
that ``alpha`` bounds the chance of *any* false alarm in a window (family-wise, valid whatever
the dependence between the tests). A test also has to show an effect of at least
``min_distance`` (a share of the distribution that moved, see :class:`Thresholds`): on large
windows a p-value alone flags shifts too small to matter on a shop floor.

The false-alarm rate of these defaults on stable data (many windows drawn from the unchanged
AI4I and excavator work-order distributions) is measured by ``bench/drift_false_alarms.py``;
its figures are in docs/benchmarks.md (section ``drift_false_alarms``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shopfloor.errors import InvalidInput, PayloadTooLarge

#: The window size the defaults are tuned for: rows of recent data compared with training.
WINDOW_ROWS = 500
#: Fewer rows than this say too little about a distribution: such a window is refused.
MIN_WINDOW_ROWS = 30
#: At most this many rows per window (a larger upload is split by the caller).
MAX_WINDOW_ROWS = 50_000
#: Values of each input kept at training for the two-sample tests.
REFERENCE_ROWS = 2_000
#: Rows whose model outputs are computed for the profile and per window (series families: whole assets).
OUTPUT_ROWS = 2_000
#: Rows of embeddings (texts, images) kept at training, and compared per window.
EMBEDDING_ROWS = 500
#: Rows of the inputs together kept for the domain classifier and the reconstruction error.
MULTIVARIATE_ROWS = 1_000
#: Permutations of the MMD test on embeddings (its smallest p-value is 1 / (PERMUTATIONS + 1)).
PERMUTATIONS = 1_000
#: Bins of the population stability index of a numeric input (quantiles of the training values).
PSI_BINS = 10
#: Folds of the domain classifiers: each fold's rows are scored by a model fitted on the others.
CLASSIFIER_FOLDS = 2
#: Categories kept per categorical input; the rest is counted together as "(other)".
MAX_CATEGORIES = 200


@dataclass(frozen=True)
class Thresholds:
    """When a window counts as drifted.

    alpha
        The family-wise false-alarm rate per window: Holm-adjusted p-values below it are
        significant. Default 0.01: about one false alarm in a hundred windows of unchanged data
        at most (docs/benchmarks.md measures it).
    min_distance
        The smallest effect that counts, in [0, 1]: for a numeric input the Kolmogorov-Smirnov
        distance (the largest gap between the two cumulative distributions), for a categorical
        one the total variation distance (the share of rows that would have to change category),
        for embeddings and the inputs together 2 x AUC - 1 of a classifier telling window rows
        from training rows. Default 0.1: a tenth of the distribution moved.
    """

    alpha: float = 0.01
    min_distance: float = 0.1

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, int | float) and 0 < self.alpha < 1):
            raise InvalidInput(
                f"alpha must be a probability between 0 and 1 (exclusive), got {self.alpha!r}",
                errors=[{"loc": ["query", "alpha"], "msg": "not in (0, 1)"}],
            )
        if not (isinstance(self.min_distance, int | float) and 0 <= self.min_distance < 1):
            raise InvalidInput(
                f"min_distance must be in [0, 1), got {self.min_distance!r}",
                errors=[{"loc": ["query", "min_distance"], "msg": "not in [0, 1)"}],
            )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "correction": "holm"}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given): ``adjusted[i] < alpha`` controls
    the family-wise error rate at ``alpha``. NaN p-values (a test that could not run) stay NaN and
    do not count as tests."""
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    indexed.sort()
    m = len(indexed)
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def bonferroni(p_values: Sequence[float]) -> list[float]:
    """Bonferroni-adjusted p-values: each multiplied by the number of tests (capped at 1)."""
    m = sum(not math.isnan(p) for p in p_values)
    return [p if math.isnan(p) else min(1.0, m * p) for p in p_values]


def check_window_rows(rows: int) -> None:
    """Refuse a window too small to compare or larger than one check takes."""
    if rows < MIN_WINDOW_ROWS:
        raise InvalidInput(
            f"the window holds {rows} usable row(s); a drift check needs at least {MIN_WINDOW_ROWS} "
            f"(about {WINDOW_ROWS} is what the thresholds are tuned for)",
            errors=[{"loc": ["body"], "msg": f"at least {MIN_WINDOW_ROWS} rows"}],
        )
    if rows > MAX_WINDOW_ROWS:
        raise PayloadTooLarge(
            f"the window holds {rows} rows; a drift check takes at most {MAX_WINDOW_ROWS}: "
            "split it into windows of consecutive rows",
            errors=[{"loc": ["body"], "msg": f"at most {MAX_WINDOW_ROWS} rows"}],
            limit=MAX_WINDOW_ROWS,
        )

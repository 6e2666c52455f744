"""A new stream anomaly version and the one in production on the same stretch of the new stream.

The new version's report learns each candidate from the first 60 % of the history and scores the
rest: its false alarms there, and the detection of synthetic faults injected into it one at a time
(with a label column: the F1 of its flagged points against the labels). The comparison repeats
that on the new stream for the chosen candidate and for the champion (which warms its running state
on the same first 60 %), with the same faults and the same band, on the points that do not come
from data the champion learnt from. Each model flags at its own state's deviations, so the figure
compared is the detection rate minus the false-alarm rate (what the family selects by), or the
label F1 where the scored part holds labelled anomalies. One stream cannot be resampled point by
point: the scored part is cut into ``STRETCHES`` stretches, which the gate resamples.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from shopfloor.tasks.compare import Compared, Incomparable, NewData, Paired, not_fitted_here
from shopfloor.tasks.series_anomaly.scoring import run
from shopfloor.tasks.series_anomaly.selection import (
    detected,
    f1_of,
    faulty_parts,
    learner,
    learning_cut,
    warmed,
)

STRETCHES = 10
FIGURE = "detection_minus_false_alarms"


def _outcome(
    model: Any, tl: Any, cut: int, stop: int, k: float, faults: list[tuple[int, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """The flags of the scored part (clean), and which faults the model detects."""
    _, at_cut = warmed(model, tl, cut)
    part = slice(cut, stop)
    clean = run(
        model, copy.deepcopy(at_cut), tl.times[part], tl.values[part], tl.filled[part], tl.segment[part]
    )
    hits = np.array(
        [detected(model, at_cut, tl, cut, onset, values, k) for onset, values in faults], dtype=bool
    )
    return clean.r > k, hits


def compare_stream(new: Any, champion: Any, data: NewData) -> Compared:
    """See the module docstring; ``new`` keeps ``stream_fit_`` (the new stream's timeline, its labels,
    the season, band, alarm memory, chosen candidate and seed) from its fit."""
    found = getattr(new, "stream_fit_", None)
    if found is None:
        return not_fitted_here("timeline and candidate")
    tl, labels, period, k, memory, name, seed = found
    if list(champion.value_columns_) != list(new.value_columns_):
        return Incomparable(
            f"the new version reads {', '.join(new.value_columns_)} and {data.champion} reads "
            f"{', '.join(champion.value_columns_)}"
        )
    cut, stop = learning_cut(len(tl.times))
    rows = tl.row_of_point[cut:stop]
    real = ~tl.filled[cut:stop] & (rows >= 0)
    fresh = real & ~data.seen[np.maximum(rows, 0)]
    if not fresh.any():
        return Incomparable(
            f"every point of the scored part of the stream (its last {stop - cut} points) comes from the "
            f"data {data.champion} was trained on; retrain with a later stretch of the stream"
        )
    faults = [
        (onset, values) for onset, values in faulty_parts(tl, cut, stop, period, k, seed) if fresh[onset]
    ]
    stretch = np.arange(stop - cut) * STRETCHES // (stop - cut)
    kept = [s for s in range(STRETCHES) if fresh[stretch == s].any()]
    left_out = len(set(stretch[real].tolist())) - len(kept)
    truth = labels[cut:stop] > 0 if labels is not None else None
    labelled = truth is not None and bool(truth[fresh].any())
    if not labelled and not faults:
        return Incomparable(
            "the scored part of the new stream is too short to inject a synthetic fault, and it has no "
            "labelled anomaly",
            left_out=left_out,
        )
    sides = [
        _outcome(m, tl, cut, stop, k, faults)
        for m in (learner(name, tl, cut, period, k, memory), champion.model_)
    ]
    onset_stretch = np.array([stretch[onset] for onset, _ in faults], dtype=int)
    points = [np.flatnonzero(fresh & (stretch == s)) for s in kept]
    fault_sets = [np.flatnonzero(onset_stretch == s) for s in kept]

    def figures_of(flags: np.ndarray, hits: np.ndarray, take: np.ndarray) -> dict[str, float]:
        at = np.concatenate([points[i] for i in take])
        drawn = np.concatenate([fault_sets[i] for i in take])
        detection = float(hits[drawn].mean()) if len(drawn) else float("nan")
        far = float(flags[at].mean()) if len(at) else float("nan")
        out = {FIGURE: detection - far, "fault_detection_rate": detection, "false_alarm_rate": far}
        if truth is not None:
            f1 = f1_of(flags[at], truth[at].astype(float))
            out["label_f1"] = float("nan") if f1 is None else f1
        return out

    return Paired(
        "label_f1" if labelled else FIGURE,
        True,
        len(kept),
        "stretches",
        "stretches of the new stream's last 40 %",
        left_out,
        lambda take: (figures_of(*sides[0], take), figures_of(*sides[1], take)),
        how=f"Both models warm up on the first 60 % of the new stream; {len(faults)} synthetic faults were "
        "injected one at a time into the rest, and both flag at the same band.",
    )

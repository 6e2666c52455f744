"""A new signal model and the one in production on the same recordings of the new data.

Classification: grouped cross-validation holds every recording out once, so the new version's
figure for a recording is the chosen candidate's out-of-fold prediction of each of its windows (what
its report measures, window by window); the champion predicts the windows of the same recordings.
Anomaly: the new version's report measures false alarms on healthy windows scored out of fold and,
where recordings are labelled other than ``normal_label``, the share of their windows over the
threshold; the champion scores the same windows at its own threshold. Each model flags at its own
threshold, so the figure compared is the detection rate minus the false-alarm rate. Healthy
recordings from data the champion learnt from are left out (a model never learns from faulty ones).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.tasks.compare import Compared, Incomparable, NewData, Paired, all_seen, not_fitted_here

FIGURE = "detection_minus_false_alarms"
#: The columns of a recording table a signal model reads besides its channels.
RECORDING_COLUMNS = ["sampling_rate", "rpm", "group", "recording"]


def records_of(frame: pd.DataFrame, channels: list[str]) -> list[dict[str, Any]]:
    """The rows of a recording table as predict records (channels, rate and shaft speed)."""
    keep = [c for c in (*channels, "sampling_rate", "rpm") if c in frame.columns]
    return [{k: v for k, v in row.items() if v is not None} for row in frame[keep].to_dict("records")]


def window_scorer(
    truth: np.ndarray, proba: list[np.ndarray], classes: list[Any]
) -> Callable[[np.ndarray], dict[str, float]]:
    """Window-level accuracy, macro F1 and balanced accuracy over the recordings ``take`` (a label
    the model never learnt counts against it)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    index = {str(c): k for k, c in enumerate(classes)}
    y = [np.full(len(p), index.get(str(t), -1)) for p, t in zip(proba, truth, strict=True)]
    pred = [p.argmax(axis=1) for p in proba]

    def scores(take: np.ndarray) -> dict[str, float]:
        yt, pt = np.concatenate([y[i] for i in take]), np.concatenate([pred[i] for i in take])
        return {
            "accuracy": float(accuracy_score(yt, pt)),
            "f1": float(f1_score(yt, pt, average="macro")),
            "balanced_accuracy": float(balanced_accuracy_score(yt, pt)),
        }

    return scores


def compare_classified(new: Any, champion: Any, data: NewData) -> Compared:
    """See the module docstring; ``new`` keeps ``out_of_fold_`` (per window its probabilities and
    recording) and ``recording_rows_`` (each recording's row in the table) from its fit."""
    found = getattr(new, "out_of_fold_", None)
    if found is None:
        return not_fitted_here("fold predictions")
    oof, rec = found
    rows = new.recording_rows_
    fresh = np.flatnonzero(~data.seen[rows])
    if len(fresh) == 0:
        return all_seen("every recording", data, "retrain with other recordings")
    truth = data.frame[data.target].to_numpy(dtype=object)[rows[fresh]]
    mine = [oof[rec == r] for r in fresh]
    theirs = champion.window_probabilities(data.frame.iloc[rows[fresh]])
    a, b = window_scorer(truth, mine, new.classes_), window_scorer(truth, theirs, champion.classes_)
    return Paired(
        str(new.report_["metric"]),
        True,
        len(fresh),
        "recordings",
        "recordings of the new data",
        len(rows) - len(fresh),
        lambda take: (a(take), b(take)),
        how="The new version's figure for each recording comes from the fold models fitted without it, "
        "window by window.",
    )


def _rates(healthy: list[np.ndarray], faulty: list[np.ndarray], threshold: list[float] | float) -> Any:
    """Per recording: windows and windows over the threshold (healthy), share over it (faulty)."""
    over = [float((s > threshold).sum()) for s in healthy]
    return (
        np.array([len(s) for s in healthy], float),
        np.array(over),
        [float(np.mean(s > threshold)) for s in faulty],
    )


def compare_detected(new: Any, champion: Any, data: NewData) -> Compared:
    """See the module docstring; ``new`` keeps ``evaluated_`` (the rows of its healthy and faulty
    recordings, their out-of-fold and served window scores) from its fit."""
    found = getattr(new, "evaluated_", None)
    if found is None:
        return not_fitted_here("held-out scores")
    healthy = [i for i, r in enumerate(found["healthy_rows"]) if not data.seen[r]]
    left_out = len(found["healthy_rows"]) - len(healthy)
    faulty = list(range(len(found["faulty_rows"])))
    if not healthy:
        return all_seen("every healthy recording", data, "retrain with other recordings", left_out)
    hrows = found["healthy_rows"][healthy]
    mine_h = [found["held"][found["rec"] == i] for i in healthy]
    theirs_h = champion.window_scores(data.frame.iloc[hrows])
    theirs_far = float(np.mean(np.concatenate(theirs_h) > champion.threshold_))
    mine_far = float(np.mean(np.concatenate(mine_h) > new.threshold_))
    if not faulty:
        return Incomparable(
            "the new data holds no recording labelled other than the normal label "
            f"({new.normal_label!r}) to detect: false alarms alone do not show which model finds faults "
            "better (the new version's threshold is set on its own held-out healthy windows)",
            left_out=left_out,
            available={
                "false_alarm_rate": {"challenger": round(mine_far, 6), "champion": round(theirs_far, 6)}
            },
        )
    theirs_f = champion.window_scores(data.frame.iloc[found["faulty_rows"]])
    sides = [
        _rates(mine_h, found["faulty"], new.threshold_),
        _rates(theirs_h, theirs_f, champion.threshold_),
    ]
    n_h = len(healthy)
    units = [("h", i) for i in range(n_h)] + [("f", i) for i in range(len(faulty))]

    def figures(side: Any, take: np.ndarray) -> dict[str, float]:
        points, over, rates = side
        h = np.array([units[t][1] for t in take if units[t][0] == "h"], dtype=int)
        f = [rates[units[t][1]] for t in take if units[t][0] == "f"]
        far = float(over[h].sum() / points[h].sum()) if len(h) and points[h].sum() else float("nan")
        detection = float(np.mean(f)) if f else float("nan")
        return {FIGURE: detection - far, "detection_rate_windows": detection, "false_alarm_rate": far}

    return Paired(
        FIGURE,
        True,
        len(units),
        "recordings",
        "recordings of the new data",
        left_out,
        lambda take: (figures(sides[0], take), figures(sides[1], take)),
        how=f"{n_h} healthy recordings (the new version's windows scored by the fold models fitted without "
        f"them) and {len(faulty)} recordings labelled other than {new.normal_label!r}; each model flags at "
        "its own threshold.",
    )

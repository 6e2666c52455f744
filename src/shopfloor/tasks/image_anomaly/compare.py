"""A new image anomaly version and the one in production on the same images of the new data.

The new version learns good parts only; its report measures, on images it never learnt from, how
well the scores separate good parts from labelled defects (AUROC), besides the false alarms on the
held-out good images that set its threshold. The comparison gives both models the same images of
the new data: the held-out good images, less those from data the champion learnt from, and the
labelled defects (a model never learns from defects), and compares AUROC (threshold-free, so
neither model's threshold favours it). Without labelled defects among them there is nothing to
separate: no comparable figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopfloor.tasks.compare import Compared, Incomparable, NewData, Paired, not_fitted_here


def separation(
    scores: np.ndarray, defect: np.ndarray, threshold: float, take: np.ndarray
) -> dict[str, float]:
    """AUROC (NaN without both good parts and defects), recall of defects and false alarms on good
    parts at ``threshold``, over the images ``take``."""
    from sklearn.metrics import roc_auc_score

    s, d = scores[take], defect[take]
    both = d.any() and (~d).any()
    return {
        "auroc": float(roc_auc_score(d, s)) if both else float("nan"),
        "recall_at_threshold": float(np.mean(s[d] > threshold)) if d.any() else float("nan"),
        "false_alarm_rate": float(np.mean(s[~d] > threshold)) if (~d).any() else float("nan"),
    }


def compare_images(new: Any, champion: Any, data: NewData) -> Compared:
    """See the module docstring; ``new`` keeps ``evaluated_`` (the rows, scores and kind of the
    images it scored without learning from them) from its fit."""
    found = getattr(new, "evaluated_", None)
    if found is None:
        return not_fitted_here("held-out scores")
    # a model learns good parts only: a defect image from the champion's own data is still unseen by it
    fresh = ~data.seen[found["rows"]] | found["defect"]
    left_out = int((~fresh).sum())
    rows, mine, defect = found["rows"][fresh], found["scores"][fresh], found["defect"][fresh]
    if not defect.any() or defect.all():
        labels = f" ({new.label_column!r} other than {new.good_label!r})" if new.label_column else ""
        has = (
            f"no labelled defect image{labels}"
            if not defect.any()
            else f"no held-out good image that {data.champion} did not learn from"
        )
        return Incomparable(
            f"the new data holds {has}: how well the "
            "scores separate good parts from defects (AUROC, what the report measures) needs both, and "
            "false alarms alone do not show which model finds defects better",
            left_out=left_out,
        )
    theirs = champion.image_scores(data.frame.iloc[rows])
    n_defects = int(defect.sum())
    return Paired(
        "auroc",
        True,
        len(rows),
        "images",
        "held-out images of the new data",
        left_out,
        lambda take: (
            separation(mine, defect, new.threshold_, take),
            separation(theirs, defect, champion.threshold_, take),
        ),
        how=f"{len(rows) - n_defects} of them are good parts the new version did not learn from and "
        f"{n_defects} labelled defects.",
    )

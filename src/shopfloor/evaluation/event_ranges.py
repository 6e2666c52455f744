"""Anomalous ranges a sensor model found, matched with labelled ranges: Lookout for Equipment's
model metrics and the quality verdict drawn from them.

The quality rule (``ModelQuality``): with no labelled anomaly range inside the evaluation range the
quality cannot be told (CANNOT_DETERMINE_QUALITY). Otherwise a labelled range is *detected* when a
predicted range overlaps it, and a predicted range is *confirmed* when it overlaps a labelled one;
QUALITY_THRESHOLD_MET when at least half the labelled ranges are detected and at least half the
predicted ranges are confirmed, POOR_QUALITY_DETECTED otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

#: The share of labelled ranges to detect, and of predicted ranges to confirm, for a model to meet
#: the quality threshold.
QUALITY_SHARE = 0.5


def ranges_of(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The events of per-asset anomaly results (as the family's ``predict`` gives them) as ranges:
    ``start``, ``end`` (UTC datetimes), ``points``, ``peak_score`` and ``diagnostics`` (each sensor's
    share, 0..1, as ``{"name", "value"}``), in time order."""
    out = []
    for result in results:
        for event in result.get("events", []):
            shares = event.get("contributions", {})
            out.append(
                {
                    "start": _utc(event["start"]),
                    "end": _utc(event["end"]),
                    "points": int(event.get("points", 0)),
                    "peak_score": float(event.get("peak_score", 0.0)),
                    "diagnostics": [
                        {"name": name, "value": round(float(v) / 100.0, 5)} for name, v in shares.items()
                    ],
                }
            )
    return sorted(out, key=lambda r: r["start"])


def _utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _overlaps(a: Mapping[str, Any], b: tuple[datetime, datetime]) -> bool:
    return bool(a["start"] <= b[1] and b[0] <= a["end"])


def quality(
    labeled: Sequence[tuple[datetime, datetime]], predicted: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The counts behind the quality rule (see the module) and the verdict."""
    detected = sum(1 for lab in labeled if any(_overlaps(p, lab) for p in predicted))
    confirmed = sum(1 for p in predicted if any(_overlaps(p, lab) for lab in labeled))
    if not labeled:
        verdict = "CANNOT_DETERMINE_QUALITY"
    elif detected >= QUALITY_SHARE * len(labeled) and confirmed >= max(QUALITY_SHARE * len(predicted), 1):
        verdict = "QUALITY_THRESHOLD_MET"
    else:
        verdict = "POOR_QUALITY_DETECTED"
    return {
        "labeled_ranges_count": len(labeled),
        "predicted_ranges_count": len(predicted),
        "detected_labeled_ranges_count": detected,
        "confirmed_predicted_ranges_count": confirmed,
        "false_predicted_ranges_count": len(predicted) - confirmed,
        "quality": verdict,
    }


def iso(value: datetime) -> str:
    """A UTC time as Lookout writes it in its JSON (``2024-01-02T03:04:05.000000``)."""
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")


def model_metrics(
    labeled: Sequence[tuple[datetime, datetime]],
    predicted: Sequence[Mapping[str, Any]],
    evaluation: Mapping[str, Any],
) -> dict[str, Any]:
    """Lookout's ``ModelMetrics`` (before it is written as a JSON string): the labelled and the
    predicted ranges of the evaluation range (with each predicted range's diagnostics), the counts
    and the quality verdict, and ``evaluation`` (rows, range, rule) as given."""
    counts = quality(labeled, predicted)
    return {
        "labeled_ranges": [{"start": iso(a), "end": iso(b)} for a, b in labeled],
        "predicted_ranges": [
            {
                "start": iso(p["start"]),
                "end": iso(p["end"]),
                "points": p["points"],
                "peak_score": round(p["peak_score"], 5),
                "diagnostics": p["diagnostics"],
            }
            for p in predicted
        ],
        **counts,
        "quality_rule": f"a labelled range is detected when a predicted range overlaps it; met when at least "
        f"{QUALITY_SHARE:.0%} of labelled ranges are detected and {QUALITY_SHARE:.0%} of predicted ranges "
        "overlap a label; no labelled range in the evaluation range: cannot determine",
        **dict(evaluation),
    }

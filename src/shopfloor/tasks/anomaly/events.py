"""Anomaly events: consecutive flagged points merged into one event, and event-level evaluation.

An event is raised once ``min_points`` consecutive points are flagged; it spans the whole run
(from its first flagged point to its last) and stays *open* while the run reaches the last point
seen. :class:`EventTracker` does the merging point by point with a small JSON state, so scoring a
series whole or in chunks gives the same events. :func:`evaluate_events` compares a batch-scored
table's events with known event windows (labels are used for nothing else).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.data.series import time_values
from shopfloor.errors import InvalidInput

#: Severity labels by score / threshold (the score is a distance: twice as far, twice the value).
SEVERITY_LEVELS = ((3.0, "high"), (1.5, "medium"), (1.0, "low"))


def severity(score: float, threshold: float) -> dict[str, Any]:
    """``{"value": score / threshold, "label": "low" | "medium" | "high" | "normal"}``."""
    value = float(score / threshold) if threshold > 0 else float("inf")
    label = next((name for bound, name in SEVERITY_LEVELS if value >= bound), "normal")
    return {"value": value, "label": label}


def raised_runs(flags: np.ndarray, min_points: int) -> list[tuple[int, int]]:
    """``(first, last)`` indices of every run of at least ``min_points`` consecutive flags."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    return [(int(a), int(b) - 1) for a, b in zip(starts, stops, strict=True) if b - a >= min_points]


class EventTracker:
    """Merges one asset's flagged points into events, across calls.

    ``run`` (its state) is the current run of flagged points, or None: first and last time, how many
    points, the peak's time and score, and the score-weighted sum of the points' sensor shares.
    """

    def __init__(
        self, sensors: Sequence[str], min_points: int, threshold: float, run: dict[str, Any] | None = None
    ) -> None:
        self.sensors, self.min_points, self.threshold = list(sensors), min_points, threshold
        self.run = run

    def push(
        self, times: Sequence[Any], scores: np.ndarray, flags: np.ndarray, shares: np.ndarray
    ) -> list[dict[str, Any]]:
        """Feed points in time order; returns the events they touched (closed ones, then any open).

        ``shares`` holds each flagged point's sensor shares in percent (rows of unflagged points are
        not read).
        """
        out: list[dict[str, Any]] = []
        n = len(times)
        i = 0
        while i < n:
            if not flags[i]:
                if self.run is not None:
                    if self.run["points"] >= self.min_points:
                        out.append(self._event(self.run, open_=False))
                    self.run = None
                i += 1
                continue
            j = i
            while j < n and flags[j]:
                j += 1
            self._extend(times, scores, shares, i, j)
            i = j
        if self.run is not None and self.run["points"] >= self.min_points:
            out.append(self._event(self.run, open_=True))
        return out

    def _extend(self, times: Sequence[Any], scores: np.ndarray, shares: np.ndarray, i: int, j: int) -> None:
        """Add flagged points ``i:j`` to the current run (summing in time order, as a stream would)."""
        weighted = shares[i:j] * scores[i:j, None]
        if self.run is None:
            self.run = {
                "start": times[i],
                "points": 0,
                "peak": times[i],
                "peak_score": -1.0,
                "weighted": [0.0] * len(self.sensors),
            }
        sums = np.add.accumulate(np.vstack([np.asarray(self.run["weighted"]), weighted]), axis=0)[-1]
        top = i + int(np.argmax(scores[i:j]))
        if float(scores[top]) > self.run["peak_score"]:
            self.run["peak"], self.run["peak_score"] = times[top], float(scores[top])
        self.run.update(end=times[j - 1], points=self.run["points"] + j - i, weighted=sums.tolist())

    def _event(self, run: dict[str, Any], open_: bool) -> dict[str, Any]:
        total = sum(run["weighted"])
        contributions = {
            s: (100.0 * v / total if total > 0 else 100.0 / len(self.sensors))
            for s, v in zip(self.sensors, run["weighted"], strict=True)
        }
        return {
            "start": run["start"],
            "end": run["end"],
            "peak": run["peak"],
            "peak_score": run["peak_score"],
            "severity": severity(run["peak_score"], self.threshold),
            "points": run["points"],
            "contributions": contributions,
            "open": open_,
        }


# ------------------------------------------------------------------------------------------ evaluation


def _event_ids(column: pd.Series) -> np.ndarray:
    """Event numbers as strings, '' where a row belongs to no event."""
    values = column.astype(object).where(column.notna(), "")
    return np.array([str(v).strip() for v in values], dtype=object)


def _validated_labels(frame: pd.DataFrame, label_column: str, columns: tuple[str, ...]) -> pd.Series:
    """The label column as numbers, after checking every needed column is there and labels are 0/1."""
    missing = [c for c in (*columns, label_column) if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the scored table lacks column(s) {', '.join(missing)} needed to evaluate events",
            errors=[
                {
                    "loc": ["query", "label_column" if m == label_column else "columns"],
                    "msg": f"column {m!r} missing",
                }
                for m in missing
            ],
        )
    labels = pd.to_numeric(frame[label_column], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInput(
            f"label column {label_column!r} must hold 0 or 1; row {i + 1} has "
            f"{frame[label_column].iloc[i]!r}",
            errors=[{"loc": ["file", "row", i + 1, "column", label_column], "msg": "expected 0 or 1"}],
        )
    return labels


def _match_events(
    groups: Any, label_values: np.ndarray, events: np.ndarray, times: np.ndarray
) -> tuple[int, int, int, int, list[float]]:
    """Per asset, match labelled runs with raised events: the counts and the detection delays.

    Returns (labelled, detected, raised, true raised, delays of the detected labelled events).
    """
    labelled = detected = raised = true_raised = 0
    delays: list[float] = []
    for _, rows in groups:
        lab, ev, t = label_values[rows], events[rows], times[rows]
        in_event = ev != ""
        for a, b in raised_runs(lab.astype(bool), 1):
            labelled += 1
            hits = np.flatnonzero(in_event[a : b + 1])
            if len(hits):
                detected += 1
                delays.append(float(t[a + hits[0]] - t[a]))
        for name in pd.unique(ev[in_event]):
            raised += 1
            true_raised += bool(lab[ev == name].any())
    return labelled, detected, raised, true_raised, delays


def evaluate_events(
    frame: pd.DataFrame,
    label_column: str,
    *,
    asset_column: str = "asset",
    time_column: str = "time",
    event_column: str = "event",
) -> dict[str, Any]:
    """Event-level precision, recall, F1 and time to detection of a batch-scored table.

    ``frame`` has one row per asset and time (rows of an asset in time order), ``event_column``
    (the event number within the asset, empty outside events, as written by batch scoring) and
    ``label_column``: 1 inside a known event window, 0 outside. A labelled event is a run of
    consecutive 1s of one asset; it is *detected* when a raised event shares at least one row with
    it; a raised event is *true* when it shares a row with a labelled event. Precision = true raised
    events / raised events, recall = detected labelled events / labelled events (None when there is
    nothing to divide by). Time to detection of a detected labelled event: the time of its first
    row inside a raised event minus the time of its first row, in the time column's units (cycles,
    or seconds for timestamps).

    Raises :class:`InvalidInput` for a missing column or a label that is not 0/1.
    """
    labels = _validated_labels(frame, label_column, (asset_column, time_column, event_column))
    is_datetime = not pd.api.types.is_numeric_dtype(frame[time_column])
    times = time_values(frame[time_column], time_column, lambda i, c: ["file", "column", c])
    times = times.to_numpy(float) / (1e9 if is_datetime else 1.0)
    events = _event_ids(frame[event_column])
    groups = frame.groupby(asset_column, sort=False).indices.items()
    labelled, detected, raised, true_raised, delays = _match_events(
        groups, labels.to_numpy(int), events, times
    )
    precision = true_raised / raised if raised else None
    recall = detected / labelled if labelled else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "labelled_events": labelled,
        "detected_events": detected,
        "raised_events": raised,
        "true_raised_events": true_raised,
        "mean_time_to_detection": float(np.mean(delays)) if delays else None,
        "median_time_to_detection": float(np.median(delays)) if delays else None,
        "time_unit": "seconds" if is_datetime else "time units of the time column",
        "method": "a labelled event (a run of 1s of one asset) is detected when a raised event shares "
        "a row with it; a raised event is true when it shares a row with a labelled event; time to "
        "detection: first labelled row inside a raised event minus the labelled event's first row",
    }

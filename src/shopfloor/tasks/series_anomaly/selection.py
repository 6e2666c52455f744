"""Choosing the detector: without labels on faults injected into the history, else on the labels.

Each candidate is learnt from the first 60 % of the history and scores the rest, clean (its share
of flagged points is the false alarm rate) and with one synthetic fault at a time injected there: a
spike (one reading), a level shift (from the onset on) or a burst of noise (ten readings), of 3, 5
or 8 typical deviations in one random column. A fault is detected when a point within
``HORIZON`` readings of its onset is flagged. The figure is detection rate minus false alarm rate.
With a label column the figure is the F1 of the flagged points against the labels instead.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from shopfloor.tasks.series_anomaly.context import points_per_day
from shopfloor.tasks.series_anomaly.detector import calm_of, calm_readings, fit_model, heat_of, new_state
from shopfloor.tasks.series_anomaly.scoring import run
from shopfloor.tasks.series_anomaly.timeline import Timeline, repair_notes

FAULTS = 12
MAGNITUDES = (3.0, 5.0, 8.0)
KINDS = ("spike", "shift", "burst")
HORIZON = 10
TRAIN_SHARE = 0.6
#: The injected faults are placed in at most this many points after the learning part.
EVAL_POINTS = 5000
#: How much a false alarm rate counts against the detection rate in the figure.
FAR_WEIGHT = 1.0


def _inject(
    part: np.ndarray, onset: int, kind: str, column: int, size: float, rng: np.random.Generator
) -> None:
    if kind == "spike":
        part[onset, column] += size
    elif kind == "shift":
        part[onset:, column] += size
    else:
        stop = min(len(part), onset + HORIZON)
        part[onset:stop, column] += size * rng.standard_normal(stop - onset)


def evaluate(
    name: str,
    tl: Timeline,
    period: int,
    k: float,
    seed: int,
    labels: np.ndarray | None = None,
    memory: int = 0,
) -> dict[str, Any]:
    """The figures of candidate ``name`` on the history ``tl`` (see the module docstring)."""
    n = len(tl.times)
    cut = min(max(int(TRAIN_SHARE * n), 10), n - 1)
    stop = min(n, cut + EVAL_POINTS)
    times, values, filled, segment = tl.times, tl.values, tl.filled, tl.segment
    day = points_per_day(tl.step, tl.is_datetime)
    model = fit_model(name, times[:cut], values[:cut], tl.step, period, k, day)
    model.heat_gain, model.heat_decay = heat_of(memory)
    state = new_state(model)
    head = run(model, state, times[:cut], values[:cut], filled[:cut], segment[:cut])
    model.calm = calm_of(head.z, head.spread, values[:cut], ~filled[:cut])
    model.calm_half = calm_readings(tl.step, tl.is_datetime)
    at_cut = copy.deepcopy(state)
    clean = run(
        model, copy.deepcopy(at_cut), times[cut:stop], values[cut:stop], filled[cut:stop], segment[cut:stop]
    )
    real = ~filled[cut:stop]
    far = float((clean.r[real] > k).mean()) if real.any() else 0.0
    rng = np.random.default_rng(seed)
    sd = fit_model("seasonal_baseline", times[:cut], values[:cut], tl.step, period, k).scale0
    detected, tried = 0, 0
    room = stop - cut - HORIZON
    for f in range(FAULTS if room > 0 else 0):
        onset = int(rng.integers(0, room))
        column = int(rng.integers(0, values.shape[1]))
        part = values[cut:stop].copy()
        _inject(part, onset, KINDS[f % 3], column, MAGNITUDES[(f // 3) % 3] * sd[column], rng)
        end = onset + HORIZON
        hit = run(
            model,
            copy.deepcopy(at_cut),
            times[cut : cut + end],
            part[:end],
            filled[cut : cut + end],
            segment[cut : cut + end],
        )
        tried += 1
        detected += bool((hit.r[onset:end] > k).any())
    detection = detected / tried if tried else None
    figure = (detection or 0.0) - FAR_WEIGHT * far
    out: dict[str, Any] = {
        "name": name,
        "false_alarm_rate": far,
        "detection_rate": detection,
        "faults": tried,
        "figure": figure,
    }
    if labels is not None and labels[: len(head.r)].size:
        flags = np.r_[head.r, clean.r, np.zeros(n - stop)] > k
        keep = ~filled
        f1 = _f1(flags[keep], labels[keep])
        out["label_f1"] = f1
        if f1 is not None:
            out["figure"] = f1
    return out


def _f1(flags: np.ndarray, labels: np.ndarray) -> float | None:
    positive = labels > 0
    if not positive.any():
        return None
    tp = float((flags & positive).sum())
    precision = tp / flags.sum() if flags.any() else 0.0
    recall = tp / positive.sum()
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def choose(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate with the best figure (the first listed on a tie)."""
    return max(figures, key=lambda f: f["figure"])


def report_of(
    tl: Timeline,
    chosen: dict[str, Any],
    figures: list[dict[str, Any]],
    period: int,
    k0: float,
    k: float,
    flagged: float,
    labelled: bool,
) -> dict[str, Any]:
    """The report's figures, candidates, seasonality, repairs and method (the estimator adds the
    task, layout and time)."""
    kind = {86400.0: "daily", 604800.0: "weekly"}.get(round(period * tl.step)) if period else None
    return {
        "metric": "detection_rate",
        "metrics": {
            "fault_detection_rate": chosen["detection_rate"],
            "false_alarm_rate": chosen["false_alarm_rate"],
            **({"label_f1": chosen["label_f1"]} if "label_f1" in chosen else {}),
            "training_flagged_share": flagged,
            "band_width": k,
            "band_width_from_sensitivity": k0,
            "n_points": int((~tl.filled).sum()),
        },
        "candidates": figures,
        "chosen": chosen["name"],
        "seasonality": {"period_points": period, "kind": kind},
        "repairs": tl.repairs,
        "warnings": [{"code": "time-repaired", "message": n} for n in repair_notes(tl.repairs)],
        "evaluation": {
            "method": "each candidate learns from the first 60 % of the history and scores the rest clean "
            "(false alarm rate) and with one injected fault at a time (detected when flagged within "
            f"{HORIZON} readings of the onset); figure: detection rate minus false alarm rate"
            + ("; with labels: F1 of flagged points" if labelled else ""),
            "faults": FAULTS,
            "fault_kinds": list(KINDS),
            "magnitudes_sd": list(MAGNITUDES),
        },
    }

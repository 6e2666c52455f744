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
from shopfloor.tasks.series_anomaly.detector import (
    Model,
    calm_of,
    calm_readings,
    fit_model,
    heat_of,
    new_state,
)
from shopfloor.tasks.series_anomaly.scoring import Run, run
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


def learning_cut(n: int) -> tuple[int, int]:
    """Where the learning part of a history of ``n`` points ends, and where the scored part ends."""
    cut = min(max(int(TRAIN_SHARE * n), 10), n - 1)
    return cut, min(n, cut + EVAL_POINTS)


def faulty_parts(
    tl: Timeline, cut: int, stop: int, period: int, k: float, seed: int
) -> list[tuple[int, np.ndarray]]:
    """The synthetic faults of the scored part ``cut:stop``, one at a time: each fault's onset (in
    points after ``cut``) and the scored part's values up to ``HORIZON`` points after it, with the
    fault in them (the same faults for every model given the same history and seed)."""
    rng = np.random.default_rng(seed)
    values = tl.values
    sd = fit_model("seasonal_baseline", tl.times[:cut], values[:cut], tl.step, period, k).scale0
    room = stop - cut - HORIZON
    out = []
    for f in range(FAULTS if room > 0 else 0):
        onset = int(rng.integers(0, room))
        column = int(rng.integers(0, values.shape[1]))
        part = values[cut:stop].copy()
        _inject(part, onset, KINDS[f % 3], column, MAGNITUDES[(f // 3) % 3] * sd[column], rng)
        out.append((onset, part[: onset + HORIZON]))
    return out


def detected(
    model: Model, at_cut: dict[str, Any], tl: Timeline, cut: int, onset: int, part: np.ndarray, k: float
) -> bool:
    """Whether ``model`` (in its state ``at_cut``) flags a point within ``HORIZON`` readings of the
    fault at ``onset`` in ``part``."""
    end = onset + HORIZON
    window = slice(cut, cut + end)
    hit = run(model, copy.deepcopy(at_cut), tl.times[window], part, tl.filled[window], tl.segment[window])
    return bool((hit.r[onset:end] > k).any())


def warmed(model: Model, tl: Timeline, cut: int) -> tuple[Run, dict[str, Any]]:
    """``model`` run from a fresh state over the learning part: its run and its state at ``cut``."""
    state = new_state(model)
    head = run(model, state, tl.times[:cut], tl.values[:cut], tl.filled[:cut], tl.segment[:cut])
    return head, state


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
    cut, stop = learning_cut(n)
    times, values, filled, segment = tl.times, tl.values, tl.filled, tl.segment
    model = learner(name, tl, cut, period, k, memory)
    head, at_cut = warmed(model, tl, cut)
    clean = run(
        model, copy.deepcopy(at_cut), times[cut:stop], values[cut:stop], filled[cut:stop], segment[cut:stop]
    )
    real = ~filled[cut:stop]
    far = float((clean.r[real] > k).mean()) if real.any() else 0.0
    faults = faulty_parts(tl, cut, stop, period, k, seed)
    tried = len(faults)
    hits = sum(detected(model, at_cut, tl, cut, onset, part, k) for onset, part in faults)
    detection = hits / tried if tried else None
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
        f1 = f1_of(flags[keep], labels[keep])
        out["label_f1"] = f1
        if f1 is not None:
            out["figure"] = f1
    return out


def learner(name: str, tl: Timeline, cut: int, period: int, k: float, memory: int) -> Model:
    """Candidate ``name`` learnt from the first ``cut`` points, as the selection scores it: its
    calm starts from the deviations it shows over them, as the estimator's fit does."""
    model = fit_model(
        name, tl.times[:cut], tl.values[:cut], tl.step, period, k, points_per_day(tl.step, tl.is_datetime)
    )
    model.heat_gain, model.heat_decay = heat_of(memory)
    head, _ = warmed(model, tl, cut)
    model.calm = calm_of(head.z, head.spread, tl.values[:cut], ~tl.filled[:cut])
    model.calm_half = calm_readings(tl.step, tl.is_datetime)
    return model


def f1_of(flags: np.ndarray, labels: np.ndarray) -> float | None:
    positive = labels > 0
    if not positive.any():
        return None
    tp = float((flags & positive).sum())
    precision = tp / flags.sum() if flags.any() else 0.0
    recall = tp / positive.sum()
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def refit(
    name: str, tl: Timeline, period: int, k0: float, memory: int, max_ratio: float
) -> tuple[Model, np.ndarray]:
    """Detector ``name`` learnt from the whole history, its band widened (from ``k0``) until at most
    ``max_ratio`` of the real points fall outside; and every real point's deviation."""
    day = points_per_day(tl.step, tl.is_datetime)
    model = fit_model(name, tl.times, tl.values, tl.step, period, k0, day)
    model.heat_gain, model.heat_decay = heat_of(memory)
    whole = run(model, new_state(model), tl.times, tl.values, tl.filled, tl.segment)
    model.calm = calm_of(whole.z, whole.spread, tl.values, ~tl.filled)
    model.calm_half = calm_readings(tl.step, tl.is_datetime)
    r = whole.r[~tl.filled]
    model.k = max(k0, float(np.quantile(r, 1.0 - max_ratio)))
    return model, r


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

"""The stream detector: an expected value with a band, learnt from one stream, that can follow it.

Each value column is ``level + season[phase]``: the seasonal profile (daily or weekly, found from the
data by autocorrelation) is learnt at fit and keeps learning as it scores (each phase moves a share
of its clipped deviation, once a period; the profile then lives in the stream's state); the level
starts from the history and, for the online candidates, moves with every point scored, by small
steps with each deviation clipped, so a spike barely moves it. A run of ``SHIFT_POINTS`` readings
out of the band on one side is a level shift: the level jumps to the new value. The spread (a
robust deviation, at least the history's 95th percentile deviation / 1.96) is learnt from the
history and never grows; where the stream stays far calmer than the history for thousands of
readings (a history that held a start-up transient), it comes down slowly (the calm, ``CALM_Q``).

A point's deviation is ``z = (value - expected) / spread`` per column; its raw figure is the largest
``|z|``, the band is ``expected +- k * spread`` and the score ``r^2 / (r^2 + k^2)`` (0.5 on the band's
edge). Four memories of what the stream did before (:mod:`~shopfloor.tasks.series_anomaly.context`)
add to that: an abrupt change in its recent activity and a persistent shift (the median deviation of
the last readings, judged outside the alarm widening) count as deviations too, a deviation no
larger than one it showed at the same time of day widens the band as an alarm does, and a reading
out of the band sooner after the previous one than the stream has ever done narrows the alarm
widening (the pace). :func:`advance` does
one point in plain Python floats (a streaming call scores one point, so no array is built); the
state is a small dict of numbers, stored as JSON between calls.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from shopfloor.tasks.series_anomaly.context import DAY_SECONDS, activity, pace, persistence, time_of_day

#: name -> (alpha: level step, beta: spread step); alpha 0: fixed baseline.
CANDIDATES: dict[str, tuple[float, float]] = {
    "seasonal_baseline": (0.0, 0.0),
    "online_slow": (0.002, 0.0),
    "online_fast": (0.02, 0.0),
}
#: Deviations are clipped at this many spreads before they move the level or the spread.
CLIP = 2.0
#: Consecutive readings out of the band on one side that make a level shift (online candidates).
SHIFT_POINTS = 20
#: The online candidates' starting spread: at least this share of the history's spread around its level.
LEVEL_SPREAD_SHARE = 1.0
#: The spread never falls below this share of the history's.
FLOOR_SHARE = 0.05
STATE_VERSION = 1
#: A daily or weekly pattern is kept when the lag autocorrelation is above this.
ACF_MIN = 0.3
#: The spread is at least this quantile of the history's absolute deviations over its normal value.
TAIL_Q = 0.95
TAIL_Z = 1.96
#: After a point ``r / k`` times out of the band, the band is widened ``HEAT_GAIN * r / k`` times.
#: That widening has two memories: right after the alarm it relaxes by halves every
#: ``RECENT_MEMORY / 2`` readings (the rest of one event raises no second alarm); over the alarm
#: memory (:func:`heat_of`, halving every half of it) the band stays as wide as the *second* largest
#: widening it holds, so a change that repeats raises one alarm, then again only when it grows half
#: as large again, while one lone outlier does not hide the anomalies after it. The alarm memory is
#: counted in readings, but spans at most ``ALARM_MEMORY_DAYS`` of a date/time stream's readings.
HEAT_GAIN = 1.5
HEAT_DECAY = 0.99975
RECENT_MEMORY = 200
RECENT_DECAY = 0.5 ** (2.0 / RECENT_MEMORY)
#: The band follows the ``HEAT_RANK``-th largest widening in the alarm memory.
HEAT_RANK = 2
#: The alarm memory spans at most this many days of a date/time stream's readings.
ALARM_MEMORY_DAYS = 20.0
#: The seasonal profile keeps learning as it scores: each phase moves this share of the (clipped)
#: deviation towards the reading, once a period (0: the profile stays as fit learnt it).
SEASON_RATE = 0.3
#: The calm: a spread learnt from a history wilder than the stream that follows (a start-up
#: transient, a fault since repaired) comes down, slowly. Per column, the ``CALM_Q`` quantile of the
#: absolute deviations is tracked as the stream scores (a step up after a reading above it, a smaller
#: one down after a reading below, so it settles where a share ``1 - CALM_Q`` of readings are above
#: it). It starts at the same quantile of the history's deviations (:attr:`Model.calm`) and never
#: exceeds it, and it halves over no fewer than ``CALM_HALF`` readings, nor than ``CALM_DAYS`` days
#: of a date/time stream's readings, even when every reading is below it (0: no calm). Once it is
#: below ``CALM_FROM`` of the history's, the spread comes down by the square of how far below (a
#: stream whose deviations are a quarter of the history's gets a quarter of the spread), never below
#: ``CALM_MIN`` of the learnt one; it is never raised. So slow, the time-of-day memory follows it: a
#: deviation that recurs daily grows less than 1.5 times from one day to the next as the band narrows.
CALM_Q = 0.95
CALM_HALF = 2000.0
CALM_DAYS = 7.0
CALM_FROM = 0.5
CALM_MIN = 0.2


def heat_of(memory: int) -> tuple[float, float]:
    """(gain, decay per reading) of the band's widening after alarms, for an alarm memory of
    ``memory`` readings (0: no widening, every reading out of the plain band is flagged)."""
    return (HEAT_GAIN, 0.5 ** (2.0 / memory)) if memory > 0 else (0.0, 0.0)


def alarm_readings(memory: int, step: float, is_datetime: bool) -> int:
    """The alarm memory in readings: ``memory``, but at most ``ALARM_MEMORY_DAYS`` of a date/time
    stream's readings (5,600 five-minute readings are 19 days; as many hourly ones would be 8 months,
    over which one alarm's size would hide the anomalies of a season)."""
    if memory > 0 and is_datetime and step > 0:
        return max(1, min(memory, int(round(ALARM_MEMORY_DAYS * DAY_SECONDS / step))))
    return memory


def band_width(sensitivity: int) -> float:
    """Spreads from the expected value to the band's edge: 1.5 at sensitivity 99, 11.4 at 0."""
    return 1.5 + 0.1 * (99 - int(sensitivity))


@dataclass
class Model:
    """What fit learnt, per value column: starting level and spread, the spread's floor, the
    seasonal profile (``period`` points from ``t0``; empty without season), the candidate's steps
    and band width ``k``, and the readings per day (``day``, 0: no time-of-day memory)."""

    name: str
    alpha: float
    beta: float
    k: float
    level0: list[float]
    scale0: list[float]
    floor: list[float]
    season: list[list[float]]
    period: int
    t0: float
    step: float
    heat_gain: float = HEAT_GAIN
    heat_decay: float = HEAT_DECAY
    #: Readings per day of a date/time stream whose step divides a day (time-of-day memory); 0: none.
    day: int = 0
    #: Per column, the ``CALM_Q`` quantile of the absolute deviations the candidate saw over the
    #: history (:func:`calm_of`), which the calm starts from; empty or 0: the spread stays as learnt.
    calm: list[float] = field(default_factory=list)
    #: The fewest readings over which the calm's tracked quantile halves (:func:`calm_readings`).
    calm_half: float = CALM_HALF

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        return cls(**data)


def _mad(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else 0.0


def _interpolated(y: np.ndarray) -> np.ndarray:
    good = np.isfinite(y)
    if good.all() or not good.any():
        return np.where(good, y, 0.0)
    idx = np.arange(len(y))
    return np.interp(idx, idx[good], y[good])


def find_period(times: np.ndarray, values: np.ndarray, step: float, is_datetime: bool) -> int:
    """A daily or weekly period in points, if the history holds two and the pattern is clear (lag
    autocorrelation above 0.3 after removing a straight trend); else 0."""
    if not is_datetime or step <= 0:
        return 0
    best, best_acf = 0, ACF_MIN
    for seconds in (86400.0, 7 * 86400.0):
        p = int(round(seconds / step))
        if p < 4 or abs(p * step - seconds) > step / 2 or len(times) < 2 * p:
            continue
        acfs = []
        for j in range(values.shape[1]):
            y = _interpolated(values[:, j])
            y = y - np.polyval(np.polyfit(np.arange(len(y)), y, 1), np.arange(len(y)))
            a, b = y[p:], y[:-p]
            if a.std() > 0 and b.std() > 0:
                acfs.append(float(np.corrcoef(a, b)[0, 1]))
        acf = max(acfs, default=0.0)
        if acf > best_acf:
            best, best_acf = p, acf
    return best


def _profile(times: np.ndarray, y: np.ndarray, t0: float, step: float, period: int) -> np.ndarray:
    """The seasonal profile: per phase the median of the detrended values, smoothed, centred."""
    phase = np.rint((times - t0) / step).astype(int) % period
    trend = np.polyval(np.polyfit(np.arange(len(y)), _interpolated(y), 1), np.arange(len(y)))
    r = y - trend
    prof = np.array(
        [np.nanmedian(r[phase == p]) if np.isfinite(r[phase == p]).any() else 0.0 for p in range(period)]
    )
    prof = np.where(np.isfinite(prof), prof, 0.0)
    width = max(1, period // 48)
    if width > 1:
        kernel = np.ones(width) / width
        prof = np.convolve(np.r_[prof[-width:], prof, prof[:width]], kernel, mode="same")[width:-width]
    return prof - np.median(prof)


def fit_model(
    name: str, times: np.ndarray, values: np.ndarray, step: float, period: int, k: float, day: int = 0
) -> Model:
    """The candidate ``name`` learnt from a regular history (points x columns); ``day``: readings per
    day (:func:`~shopfloor.tasks.series_anomaly.context.points_per_day`, 0: no time-of-day memory)."""
    alpha, beta = CANDIDATES[name]
    t0 = float(times[0])
    season, level0, scale0, floor = [], [], [], []
    for j in range(values.shape[1]):
        y = values[:, j]
        prof = _profile(times, y, t0, step, period) if period else np.zeros(0)
        season.append(prof.tolist())
        phase = np.rint((times - t0) / step).astype(int) % period if period else None
        d = y - prof[phase] if period else y
        level = float(np.nanmedian(d))
        if alpha > 0:  # an online level: the spread of one step's change
            diffs = np.diff(d[np.isfinite(d)])
            spread = _mad(diffs) / math.sqrt(2) if len(diffs) else 0.0
            spread = max(spread, LEVEL_SPREAD_SHARE * _mad(d - level) if alpha < 0.1 else 0.0)
        else:
            spread = _mad(d - level)
        if TAIL_Q > 0 and np.isfinite(d).any():  # heavy tails in the history widen the band
            tail = float(np.nanquantile(np.abs(d - level), TAIL_Q)) / TAIL_Z
            spread = max(spread, tail)
        base = max(abs(level), float(np.nanmax(np.abs(d))) if np.isfinite(d).any() else 0.0, 1e-9)
        fl = max(FLOOR_SHARE * spread, 1e-6 * base, 1e-9)
        level0.append(level)
        scale0.append(max(spread, fl, 1e-3 * base if spread == 0 else 0.0))
        floor.append(fl)
    return Model(
        name, alpha, beta, k, level0, scale0, floor, season, period, t0, step, HEAT_GAIN, HEAT_DECAY, day
    )


def new_state(model: Model) -> dict[str, Any]:
    d = len(model.level0)
    return {
        "version": STATE_VERSION,
        "n": 0,
        "level": list(model.level0),
        "scale": list(model.scale0),
        "out": [0] * d,
        "last_time": None,
        "last": None,
        "segment": 0,
        "heat": 1.0,
        "recent": 1.0,
        "tops": [],
        "run": None,
        **({"season": [list(p) for p in model.season]} if SEASON_RATE > 0 and model.period else {}),
    }


def restart(state: dict[str, Any]) -> None:
    """A new segment (after a gap split): the level is taken afresh from the next point."""
    state["n"] = 0
    state["fresh"] = True
    state["out"] = [0] * len(state["out"])


def _narrowed(learnt: float, calm: float, top: float, floor: float) -> float:
    """The spread ``learnt``, narrowed where the stream is calmer than the history (its tracked
    quantile ``calm`` below ``CALM_FROM`` of the history's ``top``)."""
    if calm >= CALM_FROM * top:
        return learnt
    below = calm / (CALM_FROM * top)
    return max(learnt * max(below * below, CALM_FROM * below), floor)


def advance(
    model: Model, state: dict[str, Any], t: float, x: list[float], learn_only: bool = False
) -> tuple[float, float, list[float], list[float], list[float]]:
    """Score the point ``x`` (one value per column, NaN missing) at time ``t`` and update ``state``.

    Returns (r: the largest |z|, the score, z per column, expected per column, spread per column), all
    before the update, with z and r divided and the spread multiplied by the band's current widening (the
    heat, or what the stream did at this time of day if wider). r is the activity's deviation where that
    is larger (:func:`~shopfloor.tasks.series_anomaly.context.activity`), or the persistence's
    (:func:`~shopfloor.tasks.series_anomaly.context.persistence`, not divided by the heat).
    ``learn_only``: a filled point, learnt from but not scored (r = 0).
    """
    level, scale, out = state["level"], state["scale"], state["out"]
    alpha, beta, k = model.alpha, model.beta, model.k
    online = alpha > 0
    fresh = state.get("fresh", False) and online
    phase = int(round((t - model.t0) / model.step)) % model.period if model.period else -1
    season = state.get("season") if phase >= 0 else None
    rate = SEASON_RATE if season is not None else 0.0
    calm = state.get("calm") if model.calm else None
    if model.calm and calm is None:
        calm = state["calm"] = list(model.calm)
    r = 0.0
    zs, expected, spreads = [], [], []
    for j, v in enumerate(x):
        s = (season[j] if season is not None else model.season[j])[phase] if phase >= 0 else 0.0
        if fresh and v == v:
            level[j] = v - s
        learnt = max(scale[j], model.floor[j])
        top = model.calm[j] if calm is not None else 0.0
        sc = _narrowed(learnt, calm[j], top, model.floor[j]) if top > 0 else learnt  # type: ignore[index]
        e = (v - s - level[j]) if v == v else 0.0
        z = e / sc
        expected.append(level[j] + s)
        spreads.append(sc)
        zs.append(z)
        if not learn_only and abs(z) > r:
            r = abs(z)
        if v != v:
            continue
        if top > 0 and not learn_only and not fresh:
            calm[j] = calmed(calm[j], abs(e), top, model.calm_half)  # type: ignore[index]
        c = CLIP * sc
        ec = c if e > c else (-c if e < -c else e)
        if rate and not fresh:
            season[j][phase] += rate * ec  # type: ignore[index]
        if online:
            level[j] += alpha * ec
            scale[j] = math.sqrt((1.0 - beta) * learnt * learnt + beta * ec * ec)
            if abs(z) > k:
                same = (out[j] > 0) == (z > 0) and out[j] != 0
                out[j] = (abs(out[j]) + 1 if same else 1) * (1 if z > 0 else -1)
                if abs(out[j]) >= SHIFT_POINTS:
                    level[j] = v - s
                    out[j] = 0
            else:
                out[j] = 0
    if any(v == v for v in x):
        state["n"] += 1
        state["fresh"] = False
    if learn_only:
        heat = state["heat"]
        pace(state, 0.0, k)  # the pace counts filled readings too (it is about time)
        if heat > 1.0:
            r, zs, spreads = r / heat, [z / heat for z in zs], [sp * heat for sp in spreads]
        return r, 0.0, zs, expected, spreads
    sooner = pace(state, r, k)
    r = max(r, activity(state, r, k))
    shift = persistence(state, zs, k)
    heat = state["heat"]
    if model.day and model.heat_gain > 0:  # alarm memory 0: every reading out of the band is flagged
        heat = max(heat, time_of_day(state, model.day, t, model.step, r / k))
    if sooner > 1.0 and heat > 1.0:  # out of the band sooner than ever: the widening is for the usual pace
        heat = max(1.0, heat / sooner)
    if heat > 1.0:
        zs, spreads = [z / heat for z in zs], [sp * heat for sp in spreads]
    state["heat"] = widened(model, state, r / k)
    r = max(r / heat, shift)  # a persistent shift is judged outside the alarm widening
    return r, score_of(r, k), zs, expected, spreads


@functools.cache
def _calm_steps(q: float, half: float) -> tuple[float, float]:
    """(factor after a reading above the tracked quantile, factor after one below)."""
    return 2.0 ** (q / (1.0 - q) / half), 0.5 ** (1.0 / half)


def calm_readings(step: float, is_datetime: bool) -> float:
    """The fewest readings over which the calm's tracked quantile may halve: ``CALM_HALF``, or
    ``CALM_DAYS`` days of a date/time stream's readings if more (2,000 one-minute readings are a day
    and a half, too little to tell a calmer stream from a quiet day)."""
    if CALM_HALF > 0 and is_datetime and step > 0:
        return max(CALM_HALF, CALM_DAYS * DAY_SECONDS / step)
    return CALM_HALF


def calmed(tracked: float, deviation: float, top: float, half: float) -> float:
    """The calm's tracked quantile past a reading ``deviation`` away from the expected value (both
    in the column's units; ``half``: the fewest readings over which it halves), kept between
    ``CALM_MIN`` and 1 times ``top`` (the history's; below ``CALM_MIN`` it would only take longer
    to come back up)."""
    up, down = _calm_steps(CALM_Q, half)
    tracked *= up if deviation > tracked else down
    low = CALM_MIN * top
    return top if tracked > top else (low if tracked < low else tracked)


def calm_of(z: np.ndarray, spread: np.ndarray, values: np.ndarray, real: np.ndarray) -> list[float]:
    """What the calm starts from (:attr:`Model.calm`): per column the ``CALM_Q`` quantile of the
    absolute deviations ``z * spread`` (as :func:`advance` returns them over the history ``values``;
    ``real``: the points that were not filled into gaps); empty when the calm is off."""
    if CALM_HALF <= 0:
        return []
    out = []
    for j in range(values.shape[1]):
        keep = real & np.isfinite(values[:, j])
        e = np.abs(z[keep, j] * spread[keep, j])
        out.append(float(np.quantile(e, CALM_Q)) if len(e) else 0.0)
    return out


def widened(model: Model, state: dict[str, Any], out: float) -> float:
    """Move the two memories of the band's widening past a reading ``out`` band widths from the
    expected value; returns the widening for the next reading."""
    if model.heat_gain <= 0:
        return 1.0
    fresh = model.heat_gain * out
    recent = max(1.0, state.get("recent", state["heat"]) * RECENT_DECAY, fresh)
    tops = [t * model.heat_decay for t in state.get("tops", ())]
    if fresh > 1.0:
        tops = sorted([*tops, fresh], reverse=True)[:HEAT_RANK]
    state["recent"], state["tops"] = recent, tops
    return max(recent, tops[HEAT_RANK - 1] if len(tops) >= HEAT_RANK else 1.0)


def score_of(r: float, k: float) -> float:
    """A raw deviation as a score in [0, 1]: 0.5 on the band's edge, towards 1 far outside it."""
    return r * r / (r * r + k * k) if r > 0 else 0.0

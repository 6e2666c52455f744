"""What a reading is compared with besides the expected value: the stream's recent activity, how long
it has stayed off its expected value, the deviations it showed at the same time of day before, and
how soon after the previous one a reading leaves the band.

Four small memories kept in the stream's state, all looking only back:

- **Activity** (:func:`activity`): a change in how much the stream deviates, not in one reading. The
  deviation of each reading (in spreads, capped at the band's edge) is averaged over the last few
  readings (``ACTIVITY_SPAN``); that short average is compared with its own running mean and
  variance over ``ACTIVITY_MEMORY`` readings. When it stands ``ACTIVITY_K`` of its standard
  deviations above its mean (a dense run of bursts after a long calm spell), it counts as a
  deviation at the band's edge, and more beyond. It has its own widening (one alarm per change),
  relaxing by half over ``ACTIVITY_HALF`` readings. It shares the alarm widening too, so it flags an
  abrupt change of activity: a gradual one (a slowly noisier spell) grows no faster than the
  widening it raises.
- **Persistence** (:func:`persistence`): the median deviation (signed, in spreads) of the last
  ``PERSIST_SPAN`` readings, per column. A single spike barely moves it; a level shift moves it
  fully once half the span is past. On the band's edge at ``PERSIST_K`` band widths, with a widening
  of its own only: the alarm widening that large spikes leave (which can hold the band many times
  wider for thousands of readings) does not hide a shift smaller than those spikes.
- **Time of day** (:func:`time_of_day`): for date/time streams whose step divides a day, the largest
  deviation seen at each time of day (within ``DAY_NEAR`` readings either side; at most
  ``DAY_BINS`` slots a day), relaxing by half every ``DAY_HALF_DAYS`` days. A reading no more than
  ``1 / DAY_GAIN`` times past what the stream already did at that time of day (a nightly job's
  spike) widens the band as an alarm would: what recurs daily is not news, a larger one still is.
- **Pace** (:func:`pace`): the fewest readings the stream has ever gone between two readings out of
  the band. A reading out of the band sooner after the previous one than that (a cycle repeating
  faster than it ever has: a valve chattering, a compressor short-cycling) narrows the alarm widening
  by up to ``PACE_CAP`` times: the widening that the earlier ones left is for events at the
  stream's usual pace. Judged once ``PACE_WARM`` such readings are seen.

The persistence keeps its readings rounded to single precision, and the time-of-day slots as
half-precision floats in a ``bytearray`` (two bytes a slot; a
reading touches a few of them, never the whole day), which the stream's state stores as it is
(base64), so a stream scored one point at a time matches batch scoring exactly.
"""

from __future__ import annotations

import functools
import math
import struct
from typing import Any

#: Readings in the short average of deviations.
ACTIVITY_SPAN = 10.0
#: Readings over which the short average's mean and variance are learnt.
ACTIVITY_MEMORY = 1000.0
#: Standard deviations of the short average above its mean that put it on the band's edge.
ACTIVITY_K = 4.0
#: Readings before the activity is judged (its mean and variance are being learnt).
ACTIVITY_WARM = 300
#: The activity's own widening after it alarms relaxes by half over this many readings.
ACTIVITY_HALF = 5000.0
ACTIVITY_GAIN = 1.5
#: Readings whose median deviation is the persistence.
PERSIST_SPAN = 21
#: Band widths of median deviation that put the persistence on the band's edge.
PERSIST_K = 1.75
#: The persistence's own widening after it alarms relaxes by half over this many readings.
PERSIST_HALF = 5000.0
PERSIST_GAIN = 1.5
#: The most time-of-day slots kept (a finer step shares slots between neighbouring readings).
DAY_BINS = 288
#: Readings either side of the same time of day that count as the same time.
DAY_NEAR = 3
#: The time-of-day memory relaxes by half over this many days.
DAY_HALF_DAYS = 30.0
DAY_GAIN = 1.5
DAY_SECONDS = 86400.0
#: Readings out of the band seen before the pace is judged.
PACE_WARM = 10
#: The most the pace narrows the alarm widening (times), as the square root of how much sooner.
PACE_CAP = 1.5
_HALF = struct.Struct("<e")
_HALF_MAX = 65000.0
_SINGLE = struct.Struct("<f")
_SINGLE_MAX = 3.0e38


@functools.cache
def _halves(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}e")


def _decayed(mem: bytearray, factor: float) -> None:
    packed = _halves(len(mem) // 2)
    packed.pack_into(mem, 0, *(m * factor for m in packed.unpack(mem)))


def single(x: float) -> float:
    """``x`` rounded to single precision (the persistence memory is stored as 4-byte floats)."""
    return (
        _SINGLE.unpack(_SINGLE.pack(x))[0]
        if -_SINGLE_MAX < x < _SINGLE_MAX
        else math.copysign(_SINGLE_MAX, x)
    )


def points_per_day(step: float, is_datetime: bool) -> int:
    """Readings per day for a date/time stream whose step divides a day (at least 4 a day); else 0."""
    if not is_datetime or step <= 0:
        return 0
    p = int(round(DAY_SECONDS / step))
    return p if p >= 4 and abs(p * step - DAY_SECONDS) <= step / 2 else 0


def day_slots(per_day: int) -> tuple[int, int]:
    """(readings per slot, slots) of the time-of-day memory for ``per_day`` readings a day."""
    per = -(-per_day // DAY_BINS)
    return per, -(-per_day // per)


def activity(state: dict[str, Any], r: float, k: float) -> float:
    """Move the activity memory past a reading ``r`` spreads from the expected value (band edge
    ``k``); returns the activity as a deviation in spreads (``k`` on its edge), after its own
    widening, 0 while it is being learnt or not above its mean."""
    u = r if r < k else k
    a = state.get("activity")
    if a is None:
        a = state["activity"] = [u, u, 0.0, 0, 1.0]
    fast, mean, var, n, widening = a
    fast += (u - fast) * 2.0 / (ACTIVITY_SPAN + 1.0)
    n += 1
    out = 0.0
    if n > ACTIVITY_WARM and var > 0:
        level = (fast - mean) / math.sqrt(var) / ACTIVITY_K
        out = level / widening
        widening = max(1.0, widening * 0.5 ** (1.0 / ACTIVITY_HALF), ACTIVITY_GAIN * level)
    w = max(1.0 / n, 1.0 / ACTIVITY_MEMORY)
    d = fast - mean
    mean += w * d
    var = (1.0 - w) * (var + w * d * d)
    a[0], a[1], a[2], a[3], a[4] = fast, mean, var, n, widening
    return out * k if out > 0 else 0.0


def persistence(state: dict[str, Any], zs: list[float], k: float) -> float:
    """Move the persistence memory past a reading ``zs`` (deviation in spreads per column; band edge
    ``k``); returns the largest median deviation as a deviation in spreads (``k`` on its edge), after
    the persistence's own widening, 0 until ``PERSIST_SPAN`` readings are held."""
    recent = state.get("persist")
    if recent is None:
        recent = state["persist"] = [[] for _ in zs]
    level, full = 0.0, False
    for held, z in zip(recent, zs, strict=True):
        held.append(single(z))
        if len(held) > PERSIST_SPAN:
            del held[0]
        if len(held) == PERSIST_SPAN:
            full = True
            m = abs(sorted(held)[PERSIST_SPAN // 2])
            level = m if m > level else level
    if not full:
        return 0.0
    level /= PERSIST_K * k
    widening = state.get("persist_widening", 1.0)
    state["persist_widening"] = max(1.0, widening * 0.5 ** (1.0 / PERSIST_HALF), PERSIST_GAIN * level)
    return level / widening * k


def time_of_day(state: dict[str, Any], per_day: int, t: float, step: float, out: float) -> float:
    """The band's widening from what the stream did at this time of day (1: nothing), then remember
    a reading ``out`` band widths from the expected value at time ``t`` (seconds since 1970)."""
    per, slots = day_slots(per_day)
    mem = state.get("day")
    day = math.floor(t / DAY_SECONDS)
    if mem is None:
        mem = state["day"] = bytearray(2 * slots)
        state["day_index"] = day
    elif day != state["day_index"]:
        _decayed(mem, 0.5 ** ((day - state["day_index"]) / DAY_HALF_DAYS))
        state["day_index"] = day
    slot = (int(round((t % DAY_SECONDS) / step)) % per_day) // per
    near = -(-DAY_NEAR // per)
    lo, hi = slot - near, slot + near + 1
    if lo >= 0 and hi <= slots:
        seen = max(_halves(hi - lo).unpack_from(mem, 2 * lo))
    else:
        seen = max(_HALF.unpack_from(mem, 2 * (i % slots))[0] for i in range(lo, hi))
    if out > _HALF.unpack_from(mem, 2 * slot)[0]:
        _HALF.pack_into(mem, 2 * slot, out if out < _HALF_MAX else _HALF_MAX)
    return max(1.0, DAY_GAIN * seen)


def pace(state: dict[str, Any], r: float, k: float) -> float:
    """Move the pace memory past a reading ``r`` spreads from the expected value (band edge ``k``;
    a filled reading: 0); returns how many times narrower the alarm widening is for it: the square
    root of how much sooner than ever it left the band after the previous reading out of it, at most
    ``PACE_CAP`` (1: not out of the band, or not sooner)."""
    p = state.get("pace")
    if p is None:  # readings since the last one out of the band (-1: none yet), fewest between two, seen
        p = state["pace"] = [-1, 0, 0]
    since, fewest, seen = p
    out = 1.0
    if since >= 0:
        since += 1
    if r > k:
        if since > 0:
            if seen >= PACE_WARM and since < fewest:
                out = min(PACE_CAP, math.sqrt(fewest / since))
            fewest = since if seen == 1 or since < fewest else fewest
        seen = seen + 1 if seen < PACE_WARM else seen
        since = 0
    p[0], p[1], p[2] = since, fewest, seen
    return out

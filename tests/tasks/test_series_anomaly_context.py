"""series_anomaly's memories of what the stream did before: recent activity, time of day."""

from __future__ import annotations

import json
import math

import numpy as np

from shopfloor.tasks.series_anomaly.context import (
    ACTIVITY_WARM,
    DAY_HALF_DAYS,
    PACE_CAP,
    PACE_WARM,
    activity,
    day_slots,
    pace,
    points_per_day,
    time_of_day,
)

K = 3.4


def _calm(state: dict, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for r in np.abs(rng.normal(0, 0.05, n)).tolist():
        assert activity(state, r, K) <= K  # never above the band's edge while calm


def test_activity_is_silent_while_it_learns_and_flags_a_return_of_activity_once() -> None:
    state: dict = {}
    for _ in range(ACTIVITY_WARM):  # learning: whatever the readings, no figure
        assert activity(state, 10 * K, K) == 0.0
    state = {}
    _calm(state, 3000)
    burst = [activity(state, K, K) for _ in range(5)]  # readings at the band's edge, all at once
    assert burst[0] > K  # the first one is an alarm although no reading left the band
    assert max(burst[1:]) < burst[0]  # the activity's own widening: one alarm for one change
    assert json.loads(json.dumps(state)) == state  # plain numbers, kept as they are in a stream's state


def test_activity_ignores_a_change_of_the_size_the_stream_shows_anyway() -> None:
    state: dict = {}
    rng = np.random.default_rng(1)
    for r in np.abs(rng.normal(0, 1.0, 3000)).tolist():  # a noisy stream: the average moves a lot
        activity(state, r, K)
    assert activity(state, 1.5, K) < K


def test_time_of_day_remembers_each_time_of_a_day_and_forgets_slowly() -> None:
    state: dict = {}
    step, day = 300.0, 86400.0
    t0 = 1_700_000_000.0 - 1_700_000_000.0 % day  # midnight
    assert time_of_day(state, 288, t0 + 3600, step, 5.0) == 1.0  # nothing seen yet at 01:00
    assert len(state["day"]) == 2 * 288  # two bytes a slot
    seen = time_of_day(state, 288, t0 + day + 3600 + 2 * step, step, 0.0)  # next day, two readings later
    assert math.isclose(seen, 1.5 * 5.0 * 0.5 ** (1 / DAY_HALF_DAYS), rel_tol=1e-3)
    assert time_of_day(state, 288, t0 + day + 7200, step, 0.0) == 1.0  # another time of day
    later = time_of_day(state, 288, t0 + (1 + DAY_HALF_DAYS) * day + 3600, step, 0.0)  # half of it
    assert math.isclose(later, 1.5 * 5.0 * 0.5 ** (1 + 1 / DAY_HALF_DAYS), rel_tol=2e-2)
    # the largest value half precision holds, not infinity
    assert math.isfinite(time_of_day(state, 288, t0 + 32 * day, step, 1e9))


def test_readings_per_day_only_for_date_times_whose_step_divides_a_day() -> None:
    assert points_per_day(300.0, True) == 288 and points_per_day(3600.0, True) == 24
    assert points_per_day(300.0, False) == 0  # plain numbers: no day
    assert points_per_day(7 * 3600.0, True) == 0  # three and a bit readings a day
    assert points_per_day(60.0, True) == 1440 and day_slots(1440) == (5, 288)  # slots shared


def _cycles(state: dict, every: int, times: int) -> None:
    """A reading out of the band every ``every`` readings, ``times`` times."""
    for _ in range(times):
        assert all(pace(state, 0.5 * K, K) == 1.0 for _ in range(every - 1))
        pace(state, 2 * K, K)


def test_pace_narrows_the_widening_for_a_reading_out_of_the_band_sooner_than_ever() -> None:
    state: dict = {}
    _cycles(state, 50, PACE_WARM)
    assert state["pace"] == [0, 50, PACE_WARM]  # whole numbers only: the memory stays a few bytes
    assert json.loads(json.dumps(state)) == state
    assert [pace(state, 0.0, K) for _ in range(49)] == [1.0] * 49  # a filled reading counts as time
    assert pace(state, 2 * K, K) == 1.0  # at the usual pace
    for _ in range(39):
        pace(state, K, K)  # on the band's edge: not out of it
    assert math.isclose(pace(state, 2 * K, K), math.sqrt(50 / 40))  # sooner than ever
    assert pace(state, 2 * K, K) == PACE_CAP  # right after: much sooner, capped
    assert state["pace"][1] == 1  # the fewest readings between two, from now on
    pace(state, 0.0, K)
    assert pace(state, 3 * K, K) == 1.0  # no longer sooner than ever


def test_pace_is_silent_until_enough_readings_out_of_the_band_are_seen() -> None:
    state: dict = {}
    _cycles(state, 50, PACE_WARM - 1)
    assert pace(state, 2 * K, K) == 1.0  # two in a row, but the stream's pace is not known yet

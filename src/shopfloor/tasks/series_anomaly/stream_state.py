"""The state a series_anomaly stream carries between ``POST .../score`` calls, as JSON.

:func:`unpack` checks a state that came back against the model (another model's state, or a
damaged one, is a 422 that says to reset the stream) and turns its packed parts into numbers;
:func:`pack` does the opposite after scoring. The packed parts are the bulky ones: the seasonal
profile (float64), the time-of-day memory (half-precision floats, as they are) and the
persistence's readings (float32, exact), base64 each, as their JSON numbers would cost more to
parse than the scoring itself.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput
from shopfloor.tasks.base import ONE_STREAM
from shopfloor.tasks.series_anomaly.context import PACE_WARM, PERSIST_SPAN, day_slots
from shopfloor.tasks.series_anomaly.detector import STATE_VERSION, Model, new_state


def unpack(state: Mapping[str, Any] | None, model: Model, columns: int) -> dict[str, Any]:
    """The stream's state ready to score from (None: a new stream) for ``model`` over ``columns``
    value columns; :class:`InvalidInput` for a state that does not fit the model."""
    if state is None:
        return new_state(model)
    try:
        if state.get("version") != STATE_VERSION or len(state["level"]) != columns:
            raise ValueError("state of another model")
        return {
            **state,
            "level": list(state["level"]),
            "scale": list(state["scale"]),
            "out": list(state["out"]),
            **({"season": _season_of(state["season"], model, columns)} if state.get("season") else {}),
            **(
                {"day": _day_of(state["day"], model), "day_index": int(state["day_index"])}
                if state.get("day")
                else {}
            ),
            **({"activity": _activity_of(state["activity"])} if "activity" in state else {}),
            **({"persist": _persist_of(state["persist"], columns)} if "persist" in state else {}),
            **({"pace": _pace_of(state["pace"])} if "pace" in state else {}),
            **({"calm": _calm_of(state["calm"], columns)} if "calm" in state else {}),
            "persist_widening": finite(state.get("persist_widening", 1.0)),
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(
            f"the stream state does not fit this model ({exc}); reset the stream",
            errors=[{"loc": ["state", ONE_STREAM], "msg": "unusable stream state"}],
        ) from exc


def pack(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` (after scoring) with its bulky parts packed as :func:`unpack` reads them."""
    if state.get("season"):  # the profile as packed float64 (its JSON as numbers costs more than scoring)
        state["season"] = [
            base64.b64encode(np.asarray(p, dtype="<f8").tobytes()).decode() for p in state["season"]
        ]
    if state.get("day"):  # the time-of-day memory: half-precision floats, stored as they are
        state["day"] = base64.b64encode(state["day"]).decode()
    if state.get("persist"):  # the persistence's readings, single precision: 4 bytes each, exact
        state["persist"] = [
            base64.b64encode(struct.pack(f"<{len(c)}f", *c)).decode() for c in state["persist"]
        ]
    return state


def finite(value: Any) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{value!r} is not a finite number")
    return v


def _season_of(packed: Any, model: Model, columns: int) -> list[list[float]]:
    """The seasonal profile (packed by :func:`pack`) as lists of floats."""
    season = [np.frombuffer(base64.b64decode(p, validate=True), dtype="<f8").tolist() for p in packed]
    if len(season) != columns or any(len(p) != model.period for p in season):
        raise ValueError("seasonal profile of another model")
    return season


def _day_of(packed: Any, model: Model) -> bytearray:
    """The time-of-day memory (packed by :func:`pack`): two bytes a slot."""
    day = bytearray(base64.b64decode(packed, validate=True))
    if not model.day or len(day) != 2 * day_slots(model.day)[1]:
        raise ValueError("time-of-day memory of another model")
    return day


def _activity_of(values: Any) -> list[float]:
    """The activity memory: [short average, its mean, its variance, readings, widening]."""
    a = [float(v) for v in values]
    if len(a) != 5 or not all(math.isfinite(v) for v in a):
        raise ValueError("activity memory of another model")
    return [*a[:3], int(a[3]), a[4]]


def _pace_of(values: Any) -> list[int]:
    """The pace memory: [readings since the last one out of the band (-1: none yet), fewest
    readings between two, how many were seen (at most the warm-up)]."""
    p = [int(v) for v in values]
    if len(p) != 3 or p != list(values) or p[0] < -1 or p[1] < 0 or not 0 <= p[2] <= PACE_WARM:
        raise ValueError("pace memory of another model")
    return p


def _calm_of(values: Any, columns: int) -> list[float]:
    """The calm: the tracked quantile of absolute deviations, per value column."""
    c = [finite(v) for v in values]
    if len(c) != columns or any(v < 0 for v in c):
        raise ValueError("calm of another model")
    return c


def _persist_of(packed: Any, columns: int) -> list[list[float]]:
    """The persistence memory (packed by :func:`pack`): the last deviations, per value column."""
    raw = [base64.b64decode(c, validate=True) for c in packed]
    if len(raw) != columns or any(len(c) > 4 * PERSIST_SPAN or len(c) % 4 for c in raw):
        raise ValueError("persistence memory of another model")
    out = [list(struct.unpack(f"<{len(c) // 4}f", c)) for c in raw]
    if not all(math.isfinite(z) for c in out for z in c):
        raise ValueError("persistence memory of another model")
    return out

"""Per-asset streaming state of the anomaly family.

:meth:`~shopfloor.tasks.anomaly.estimator.AnomalyEstimator.score_stream` scores the new points of each
asset after those of earlier calls, and must give the scores, flags and events of scoring the
whole series at once. A point's score needs the ``window - 1`` raw points before it, and an
event needs the run of flagged points it continues, so each asset's state carries exactly
those, as JSON the registry can store: ``{"version", "last_time", "buffer", "run"}``. Here a
state is read back and checked against the model and the new points (:func:`resume`), and the
next one is built (:func:`next_state`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from shopfloor.data.series import plain
from shopfloor.errors import InvalidInput
from shopfloor.tasks.anomaly.scoring import Rows, time_out

STATE_VERSION = 1


class Resume(NamedTuple):
    """Where one asset's stream goes on: its state key (``str(asset)``), the raw points before the
    new ones (the buffer, NaN for missing readings) and the open run of flagged points, if any."""

    key: str
    buffer: np.ndarray
    run: dict[str, Any] | None


def resume(rows: Rows, states: Mapping[str, dict[str, Any]], window: int, time_column: str) -> list[Resume]:
    """Each asset of ``rows`` (in order) continued from its state in ``states`` (absent: a new asset).

    Every asset is checked before any is scored; raises :class:`InvalidInput` naming the asset and
    record for a point not strictly after the asset's last time, or a state this model cannot use.
    """
    d = rows.values.shape[1]
    out = []
    for asset, at in rows.groups:
        key = str(plain(asset))
        buffer, last, run = read_state(states.get(key), key, d, window)
        if last is not None and not rows.times[at[0]] > last:
            i = int(at[0])
            raise InvalidInput(
                f"asset {key!r}: record {i} has time {time_out(rows.raw_times[i])!r}, not after the "
                "last point already scored for this asset; send only newer points (or reset the stream)",
                errors=[
                    {
                        "loc": ["body", "records", i, time_column],
                        "msg": f"time not after the stream's last point of asset {key!r}",
                    }
                ],
            )
        out.append(Resume(key, buffer, run))
    return out


def next_state(
    buffer: np.ndarray, new: np.ndarray, last_time: float, window: int, run: dict[str, Any] | None
) -> dict[str, Any]:
    """The state after scoring the raw points ``new`` (the last at ``last_time``) after ``buffer``;
    ``run`` is the event tracker's run of flagged points once they are pushed."""
    history = np.vstack([buffer, new])
    kept = history[max(len(history) - (window - 1), 0) :] if window > 1 else history[:0]
    return {
        "version": STATE_VERSION,
        "last_time": last_time,
        "buffer": [[None if np.isnan(v) else float(v) for v in row] for row in kept],
        "run": run,
    }


def read_state(
    state: Mapping[str, Any] | None, key: str, d: int, window: int
) -> tuple[np.ndarray, float | None, dict[str, Any] | None]:
    """An asset's stream state as (buffer, last time, run); raises :class:`InvalidInput` if unusable."""
    if state is None:
        return np.empty((0, d)), None, None
    try:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"state version {state.get('version')!r}")
        buffer = np.array(
            [[np.nan if v is None else float(v) for v in row] for row in state["buffer"]], dtype=float
        ).reshape(-1, d)
        if len(buffer) > window - 1:
            raise ValueError("buffer longer than the window")
        run = state.get("run")
        if run is not None and len(run["weighted"]) != d:
            raise ValueError("open event of another sensor layout")
        return buffer, float(state["last_time"]), run
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            f"the stream state of asset {key!r} does not fit this model ({exc}); reset the stream",
            errors=[{"loc": ["state", key], "msg": "unusable stream state"}],
        ) from exc

"""Sensor tables in the shape Lookout for Equipment works with, and what its models do to them.

A Lookout dataset is one piece of equipment: components, each a set of sensors read at
timestamps. Here it is one wide table: a ``Timestamp`` column (UTC) and one column per sensor,
named ``component\\sensor`` as Lookout names them (read from component CSV files by
:mod:`shopfloor.data.lookout_ingest`). This module resamples it to a model's target sampling rate,
tells which rows the off condition removes and which fall inside labelled ranges, and cuts the
history into contiguous segments (the anomaly family sets its threshold on folds of whole
segments).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from shopfloor.data.lookout_ingest import TIME
from shopfloor.errors import InvalidInput

#: Lookout's target sampling rates, in seconds.
SAMPLING_RATES = {
    "PT1S": 1,
    "PT5S": 5,
    "PT10S": 10,
    "PT15S": 15,
    "PT30S": 30,
    "PT1M": 60,
    "PT5M": 300,
    "PT10M": 600,
    "PT15M": 900,
    "PT30M": 1800,
    "PT1H": 3600,
}
_COMPARISONS: dict[str, Callable[[pd.Series, float], pd.Series]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
}
_CONDITION = re.compile(r"^\s*(?P<sensor>.+?)\s*(?P<op><=|>=|==|!=|<|>|=)\s*(?P<value>[-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class OffCondition:
    """``sensor op value``: while it holds the machine is off, and its rows are neither learnt
    from nor scored."""

    sensor: str
    op: str
    value: float

    def off_rows(self, frame: pd.DataFrame) -> np.ndarray:
        """True for each row the condition calls off (a missing reading is not off)."""
        values = pd.to_numeric(frame[self.sensor], errors="coerce")
        return np.asarray(_COMPARISONS[self.op](values, self.value).fillna(False), dtype=bool)

    def text(self) -> str:
        return f"{self.sensor} {self.op} {self.value:g}"


def off_condition(
    text: str | None, sensors: Sequence[str], field: str = "OffCondition"
) -> OffCondition | None:
    """Parse ``component\\sensor < 100`` (also <=, >, >=, ==, !=) against the model's sensors; a
    bare sensor name is accepted when one component has it. InvalidInput naming ``field`` otherwise."""
    if text is None or not text.strip():
        return None
    found = _CONDITION.match(text)
    if found is None:
        raise InvalidInput(
            f"{field} {text!r} is not 'component\\sensor < number' (operators <, <=, >, >=, ==, !=)",
            errors=[{"loc": ["body", field], "msg": "not a condition"}],
        )
    name = found["sensor"].replace("\\\\", "\\")
    try:
        value = float(found["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput(
            f"{field}: {found['value']!r} is not a number",
            errors=[{"loc": ["body", field], "msg": "bad value"}],
        )
    matches = [s for s in sensors if s == name or s.split("\\", 1)[-1] == name]
    if len(matches) != 1:
        why = "no sensor" if not matches else "more than one sensor"
        raise InvalidInput(
            f"{field}: {why} of the model is called {name!r}; name it as component\\sensor",
            errors=[{"loc": ["body", field], "msg": f"{why} {name!r}"}],
        )
    return OffCondition(matches[0], found["op"], value)


def resample(frame: pd.DataFrame, seconds: int | None) -> pd.DataFrame:
    """Readings averaged over bins of ``seconds`` (each bin stamped with its start; bins without a
    reading left out); the frame sorted by time as it is when ``seconds`` is None."""
    frame = frame.sort_values(TIME, kind="stable")
    if not seconds:
        return frame.reset_index(drop=True)
    bins = frame[TIME].dt.floor(f"{int(seconds)}s")
    sensors = [c for c in frame.columns if c != TIME]
    out = frame[sensors].groupby(bins.to_numpy(), sort=True).mean()
    out.index.name = TIME
    out = out.reset_index()
    out[TIME] = pd.to_datetime(out[TIME], utc=True)
    return out


def within(frame: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """The rows with ``start <= Timestamp < end`` (an open side where None)."""
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (frame[TIME] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (frame[TIME] < pd.Timestamp(end)).to_numpy()
    return frame.loc[keep]


def in_ranges(times: pd.Series, ranges: Sequence[tuple[datetime, datetime]]) -> np.ndarray:
    """True for each time inside one of ``ranges`` (ends included)."""
    inside = np.zeros(len(times), dtype=bool)
    for start, end in ranges:
        inside |= ((times >= pd.Timestamp(start)) & (times <= pd.Timestamp(end))).to_numpy()
    return inside


def segments(times: pd.Series, step_s: float | None, most_rows: int | None = None) -> np.ndarray:
    """A segment number per row (rows in time order): a new segment where readings pause for more
    than three steps (``step_s``; the median step when None), and every ``most_rows`` rows."""
    if len(times) == 0:
        return np.zeros(0, dtype=int)
    gaps = times.diff().dt.total_seconds().to_numpy()[1:]
    step = float(step_s) if step_s else (float(np.median(gaps)) if len(gaps) else 1.0)
    run = np.concatenate([[0], np.cumsum(gaps > 3 * step)])
    if not most_rows:
        return run.astype(int)
    position = np.zeros(len(run), dtype=int)
    for r in np.unique(run):
        at = np.flatnonzero(run == r)
        position[at] = np.arange(len(at)) // most_rows
    _, numbered = np.unique(np.stack([run, position], axis=1), axis=0, return_inverse=True)
    return np.asarray(numbered, dtype=int).ravel()

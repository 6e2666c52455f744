"""Sensor histories in long form: one row per asset and time, one column per sensor.

The checks every sensor task family shares, at upload, at training and at prediction:
the time index of each asset must increase strictly (no unsorted or duplicated time),
every sensor must be numeric and present, each asset's history long enough for the
model's window, and training needs more than one asset. Each failure names the column,
the row (or the request's record) and the asset, and raises before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidInput

#: Where a frame's row ``i`` (0-based position; None: the whole column) and column sit,
#: for error ``loc`` lists.
Locator = Callable[[int | None, str | None], list[Any]]


def file_rows(i: int | None, column: str | None) -> list[Any]:
    """Locations in an uploaded table: data row ``i`` counted from 1, then the column."""
    row = ["row", i + 1] if i is not None else []
    return ["file", *row, *(["column", column] if column is not None else [])]


def request_records(i: int | None, column: str | None) -> list[Any]:
    """Locations in a request body's ``records`` list."""
    return ["body", "records", *([i] if i is not None else []), *([column] if column is not None else [])]


@dataclass(frozen=True)
class SeriesSpec:
    """Which column names the asset, which the time, and which are sensors (inputs)."""

    asset: str
    time: str
    sensors: tuple[str, ...] = field(default_factory=tuple)

    def columns(self) -> list[str]:
        return [self.asset, self.time, *self.sensors]

    def to_dict(self) -> dict[str, Any]:
        return {"asset": self.asset, "time": self.time, "sensors": list(self.sensors)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesSpec:
        return cls(asset=str(data["asset"]), time=str(data["time"]), sensors=tuple(data["sensors"]))


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _fail(detail: str, loc: list[Any], msg: str, cls: type[InvalidInput] = InvalidInput) -> InvalidInput:
    return cls(detail, errors=[{"loc": loc, "msg": msg}])


def time_values(values: pd.Series, name: str, where: Locator) -> pd.Series:
    """The time column as numbers (cycles) or as nanoseconds since the epoch (timestamps)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("int64").astype(float)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        return numeric.astype(float)
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise _fail(
            f"time column {name!r}: {values.iloc[i]!r} at row {i + 1} is neither a number (cycle) "
            "nor a timestamp",
            where(i, name),
            "not a time",
        )
    return parsed.astype("int64").astype(float)


def check_history(
    frame: pd.DataFrame,
    spec: SeriesSpec,
    *,
    where: Locator = file_rows,
    min_points: int = 1,
    min_assets: int = 1,
    error: type[InvalidInput] = InvalidInput,
) -> pd.DataFrame:
    """Refuse a history that a sensor model cannot use; return it with numeric sensors and time.

    The returned frame has the same rows in the same order, the time column as floats
    (cycles, or nanoseconds for timestamps) and every sensor as float.

    Raises ``error`` (an :class:`InvalidInput`) for: a missing asset, time or sensor column;
    a missing asset or time value; a time that does not increase within an asset (unsorted or
    duplicated, naming both rows); a sensor with no value at all; a non-numeric sensor value
    (the first one, with its row); an asset with fewer than ``min_points`` rows; fewer than
    ``min_assets`` assets.
    """
    missing = [c for c in spec.columns() if c not in frame.columns]
    if missing:
        raise error(
            f"the history lacks {len(missing)} column(s) the model needs: {', '.join(missing)}",
            errors=[{"loc": where(None, m), "msg": "column missing"} for m in missing],
        )
    for column in (spec.asset, spec.time):
        empty = frame[column].isna().to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise _fail(f"{column!r} is missing at row {i + 1}", where(i, column), "value required", error)
    converted = {spec.time: time_values(frame[spec.time], spec.time, where).to_numpy()}
    for sensor in spec.sensors:
        converted[sensor] = _sensor_values(frame[sensor], sensor, where, error)
    # Built in one go: replacing columns one by one in a copy costs more than all the checks.
    out = pd.DataFrame(
        {c: converted[c] if c in converted else frame[c].to_numpy() for c in frame.columns},
        index=frame.index,
    )
    _check_order(out, spec, where, error)
    counts = out.groupby(spec.asset, sort=False).size()
    if len(counts) < min_assets:
        raise _fail(
            f"the history has {len(counts)} asset(s) in {spec.asset!r}; training needs at least "
            f"{min_assets}, so that validation can hold whole assets out",
            where(None, spec.asset),
            f"at least {min_assets} assets needed",
            error,
        )
    short = counts[counts < min_points]
    if len(short):
        asset = plain(short.index[0])
        i = int(np.flatnonzero((out[spec.asset] == asset).to_numpy())[0])
        raise _fail(
            f"asset {asset!r} has {int(short.iloc[0])} point(s); the model needs at least {min_points} "
            f"(its window){f', and {len(short) - 1} other asset(s) are as short' if len(short) > 1 else ''}",
            where(i, spec.asset),
            f"history too short: {int(short.iloc[0])} < {min_points}",
            error,
        )
    return out


def _sensor_values(raw: pd.Series, sensor: str, where: Locator, error: type[InvalidInput]) -> np.ndarray:
    """One sensor as floats; refuses a sensor with no value, a non-numeric value, an infinite one."""
    if raw.dtype.kind in "fiu":
        values = raw.to_numpy(dtype=float)
        missing = np.isnan(values)
    else:
        missing = raw.isna().to_numpy()
    if missing.all():
        raise _fail(
            f"sensor {sensor!r} has no value at all; send it, or train a model without it",
            where(None, sensor),
            "sensor entirely missing",
            error,
        )
    if raw.dtype.kind not in "fiu":
        numeric = pd.to_numeric(raw.where(raw.map(lambda v: not isinstance(v, bool))), errors="coerce")
        bad = numeric.isna().to_numpy() & ~missing
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _fail(
                f"sensor {sensor!r} has a non-numeric value {raw.iloc[i]!r} at row {i + 1}",
                where(i, sensor),
                "expected a number",
                error,
            )
        values = numeric.to_numpy(dtype=float)
    infinite = np.isinf(values)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise _fail(f"sensor {sensor!r} is infinite at row {i + 1}", where(i, sensor), "not finite", error)
    return values


def _check_order(frame: pd.DataFrame, spec: SeriesSpec, where: Locator, error: type[InvalidInput]) -> None:
    """Time must increase strictly within each asset, in row order."""
    assets = frame[spec.asset].to_numpy()
    times = frame[spec.time].to_numpy(dtype=float)
    order = np.argsort(pd.factorize(assets)[0], kind="stable")
    same = assets[order][1:] == assets[order][:-1]
    step = np.diff(times[order])
    bad = np.flatnonzero(same & (step <= 0))
    if len(bad) == 0:
        return
    first = int(min(bad, key=lambda k: order[k + 1]))  # the earliest offending row
    before, at = int(order[first]), int(order[first + 1])
    asset = plain(assets[at])
    if step[first] == 0:
        detail = (
            f"asset {asset!r}: time {frame[spec.time].iloc[at]:g} at row {at + 1} repeats row {before + 1}; "
            "each asset may have one row per time"
        )
        msg = "duplicated time"
    else:
        detail = (
            f"asset {asset!r}: time goes backwards at row {at + 1} (after row {before + 1}); "
            "sort each asset's rows by time"
        )
        msg = "time not increasing"
    raise _fail(detail, where(at, spec.time), msg, error)


def assets(frame: pd.DataFrame, spec: SeriesSpec) -> Iterator[tuple[Any, pd.DataFrame]]:
    """Each asset's rows, in order of first appearance (rows keep their order within an asset)."""
    yield from frame.groupby(spec.asset, sort=False)


def records_frame(records: Sequence[Any], spec: SeriesSpec) -> pd.DataFrame:
    """A request's records (dicts) as a frame with the spec's columns (absent keys become missing)."""
    return pd.DataFrame.from_records(
        [{c: r.get(c) for c in spec.columns()} for r in records], columns=spec.columns()
    )


def spec_kwargs(spec: SeriesSpec) -> dict[str, Any]:
    """The constructor arguments that tell a series estimator its layout."""
    return {"asset_column": spec.asset, "time_column": spec.time, "sensors": list(spec.sensors)}


def assets_kept_apart(frames: Sequence[pd.DataFrame], asset_column: str) -> pd.DataFrame:
    """Several datasets' sensor histories as one table, rows in the order given, each dataset's
    assets its own: an asset id found in more than one dataset becomes one asset per dataset
    (``"7 (dataset 2)"``), since a history appended to another one's is no history of either (its
    time would restart, or a run to failure would go on after the failure)."""
    owners: dict[Any, set[int]] = {}
    for i, frame in enumerate(frames):
        for asset in pd.unique(frame[asset_column]):
            owners.setdefault(plain(asset), set()).add(i)
    shared = {asset for asset, found in owners.items() if len(found) > 1}
    if not shared:
        return pd.concat(list(frames), ignore_index=True)
    parts = []
    for i, frame in enumerate(frames):
        ids = frame[asset_column].map(plain)
        renamed = [f"{_id(a)} (dataset {i + 1})" if a in shared else _id(a) for a in ids]
        parts.append(frame.assign(**{asset_column: renamed}))
    return pd.concat(parts, ignore_index=True)


def _id(value: Any) -> str:
    """An asset id as text: 7, not 7.0, for an id column read as numbers."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _bound(value: Any, kind: str) -> float | None:
    """A profile's min or max of a time column as a number (seconds for date/times)."""
    if value is None:
        return None
    if kind == "datetime":
        stamp = pd.Timestamp(value)
        return (stamp.tz_convert("UTC") if stamp.tzinfo else stamp).value / 1e9
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_consecutive(parts: Sequence[Any], time_column: str) -> None:
    """Refuse datasets that are not separate stretches of one timeline: each dataset's span of
    ``time_column`` (from its profile: ``parts`` give ``name``, ``id`` and ``columns``) must not
    overlap another's, or the same moments would be read twice (and averaged as duplicates)."""
    spans = []
    for i, part in enumerate(parts):
        column = next((c for c in part["columns"] if c["name"] == time_column), None)
        stats, kind = (column or {}).get("stats") or {}, str((column or {}).get("type"))
        low, high = _bound(stats.get("min"), kind), _bound(stats.get("max"), kind)
        if low is None or high is None:
            raise InvalidInput(
                f"dataset {part['name']!r} ({part['id']}) has no readable time in {time_column!r}",
                errors=[{"loc": ["body", "dataset_ids", i, "columns", time_column], "msg": "no time span"}],
            )
        spans.append((low, high, i))
    spans.sort()
    for (_, high, i), (low, _, j) in zip(spans, spans[1:], strict=False):
        if low <= high:
            first, second = parts[i], parts[j]
            raise InvalidInput(
                f"datasets {first['name']!r} ({first['id']}) and {second['name']!r} ({second['id']}) overlap "
                f"in time ({time_column!r}): combine stretches of the stream that follow one another, or "
                "retrain on the one dataset that holds the whole stretch",
                errors=[{"loc": ["body", "dataset_ids", j, "columns", time_column], "msg": "overlaps"}],
            )

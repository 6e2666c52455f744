"""Lookout for Equipment's CSV layout read into one sensor table, with the data-quality figures
Lookout reports for an ingestion.

A Lookout dataset is one piece of equipment: components, each a set of sensors read at timestamps.
Each component's CSV files (a timestamp column and one column per sensor, as the dataset schema
names them) are read cell by cell: a row whose timestamp does not parse is an unsupported
timestamp (the row is dropped), an empty cell a missing value, a cell that is not a finite number
an invalid value (both become NaN), a timestamp seen twice in a component a duplicate (the last
reading kept). The components are joined on their timestamps into one wide table: ``Timestamp``
(UTC) and one column per sensor named ``component\\sensor``, as Lookout names them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidInput

TIME = "Timestamp"
#: A sensor whose readings span less than this is reported with a short date range.
SHORT_RANGE = timedelta(days=14)
#: The default place of a component's files under the prefix (Lookout's default key pattern).
DEFAULT_KEY_PATTERN = "{prefix}/{component}/*"
#: A sensor with at most this many distinct values (over at least :data:`_CATEGORY_MIN_READINGS`
#: readings) looks categorical.
_MOST_CATEGORIES = 10
_CATEGORY_MIN_READINGS = 50
#: A pause of more than this many median steps between readings is a large gap.
_GAP_STEPS = 10


@dataclass(frozen=True)
class Component:
    """One component of a schema: its name, its timestamp column, its sensor columns."""

    name: str
    time_column: str
    sensors: tuple[str, ...]


def parse_schema(text: str, field_name: str = "DatasetSchema.InlineDataSchema") -> list[Component]:
    """The components of an InlineDataSchema JSON text. Each component needs a name and columns:
    exactly one of type ``DATETIME`` (its timestamps) and at least one ``DOUBLE`` sensor.
    :class:`InvalidInput` naming the component or column otherwise."""

    def bad(detail: str) -> InvalidInput:
        where = ["body", *field_name.split(".")]
        return InvalidInput(f"{field_name}: {detail}", errors=[{"loc": where, "msg": detail}])

    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise bad(f"not JSON ({exc})") from None
    components = schema.get("Components") if isinstance(schema, dict) else None
    if not isinstance(components, list) or not components:
        raise bad("needs a non-empty Components list")
    found: list[Component] = []
    for at, part in enumerate(components):
        name = part.get("ComponentName") if isinstance(part, dict) else None
        columns = part.get("Columns") if isinstance(part, dict) else None
        if not isinstance(name, str) or not re.fullmatch(r"[0-9A-Za-z_.\-]{1,200}", name):
            raise bad(f"component {at} needs a ComponentName of letters, digits, '_', '.' or '-'")
        if any(c.name == name for c in found):
            raise bad(f"component {name!r} is named twice")
        if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
            raise bad(f"component {name!r} needs a Columns list of {{Name, Type}}")
        times = [c.get("Name") for c in columns if str(c.get("Type", "")).upper() == "DATETIME"]
        sensors = [c.get("Name") for c in columns if str(c.get("Type", "")).upper() != "DATETIME"]
        if len(times) != 1 or not isinstance(times[0], str):
            raise bad(f"component {name!r} needs exactly one column of Type DATETIME (its timestamps)")
        odd = [c for c in columns if str(c.get("Type", "")).upper() not in ("DATETIME", "DOUBLE")]
        if odd:
            raise bad(f"component {name!r}: column {odd[0].get('Name')!r} has Type {odd[0].get('Type')!r}; "
                      "sensors are DOUBLE")
        if not sensors or not all(isinstance(s, str) and s and "\\" not in s for s in sensors):
            raise bad(f"component {name!r} needs at least one named DOUBLE sensor column (no '\\' in names)")
        if len(set(sensors)) != len(sensors) or times[0] in sensors:
            raise bad(f"component {name!r} names a column twice")
        found.append(Component(name, times[0], tuple(sensors)))
    return found


def key_matcher(prefix: str, pattern: str | None, component: str | None) -> re.Pattern[str]:
    """The object keys of ``component``'s files: ``pattern`` with ``{prefix}`` (the prefix without
    its trailing '/'), ``{component}`` and ``*`` (any characters) filled in. With ``component``
    None, any component name (no '/'), captured as the group ``component``."""
    base = prefix.rstrip("/")
    text = pattern or DEFAULT_KEY_PATTERN
    if not base:
        text = text.replace("{prefix}/", "")
    parts = re.split(r"(\{prefix\}|\{component\}|\*)", text)
    named = re.escape(component) if component is not None else r"(?P<component>[^/]+?)"
    fill = {"{prefix}": re.escape(base), "{component}": named, "*": ".*"}
    return re.compile("".join(fill.get(p, re.escape(p)) for p in parts))


def infer_schema(headers: Mapping[str, Sequence[tuple[str, list[str]]]]) -> str:
    """The InlineDataSchema of files without one: per component (the name its files' keys give),
    the header of its files (the same in each): the first column the timestamps, the others DOUBLE
    sensors. ``headers``: component -> ``(where, header)`` of each of its files. InvalidInput naming
    the file whose header differs or cannot be a component's."""
    components = []
    for name, files in sorted(headers.items()):
        where, first = files[0]
        for other, header in files[1:]:
            if header != first:
                raise InvalidInput(f"{other}: its columns differ from those of {where} (component {name!r})")
        if len(first) < 2:
            raise InvalidInput(f"{where}: needs a timestamp column and at least one sensor column")
        sensors = ({"Name": c, "Type": "DOUBLE"} for c in first[1:])
        columns = [{"Name": first[0], "Type": "DATETIME"}, *sensors]
        components.append({"ComponentName": name, "Columns": columns})
    return json.dumps({"Components": components})


def csv_header(data: bytes) -> list[str]:
    """The column names of a CSV file's first line (empty for a file without one)."""
    line = data[: 64 * 1024].decode("utf-8", errors="replace").splitlines()[:1]
    return [name.strip() for name in next(csv.reader(line), [])]


def component_of(key: str, matchers: Mapping[str, re.Pattern[str]]) -> str | None:
    """The component whose pattern ``key`` matches (the longest component name wins a tie)."""
    hits = [name for name, matcher in matchers.items() if matcher.fullmatch(key)]
    return max(hits, key=len) if hits else None


@dataclass
class SensorCounts:
    rows: int = 0
    missing: int = 0
    invalid: int = 0
    invalid_dates: int = 0
    duplicates: int = 0


@dataclass
class ComponentTable:
    """A component's readings (timestamp-indexed, one column per sensor) and what was wrong in them."""

    component: Component
    frames: list[pd.DataFrame] = field(default_factory=list)
    counts: dict[str, SensorCounts] = field(default_factory=dict)
    unsupported_timestamps: int = 0
    duplicate_timestamps: int = 0


def read_component_file(table: ComponentTable, data: bytes, where: str) -> str | None:
    """Add one CSV file to ``table``; the reason it was discarded, or None when it was read."""
    comp = table.component
    try:
        raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"{where}: not a CSV table ({exc})"
    missing = [c for c in (comp.time_column, *comp.sensors) if c not in raw.columns]
    if missing:
        return f"{where}: lacks the schema's column(s) {', '.join(missing)}"
    times = pd.to_datetime(raw[comp.time_column].str.strip(), errors="coerce", utc=True, format="mixed")
    good = times.notna().to_numpy()
    bad_dates = int((~good).sum())
    table.unsupported_timestamps += bad_dates
    frame = pd.DataFrame({TIME: times[good].to_numpy()})
    for sensor in comp.sensors:
        cells = raw[sensor].str.strip()[good]
        values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
        empty = (cells == "").to_numpy()
        invalid = ~empty & ~np.isfinite(values)
        values[~np.isfinite(values)] = np.nan
        counts = table.counts.setdefault(sensor, SensorCounts())
        counts.rows += len(cells)
        counts.missing += int(empty.sum())
        counts.invalid += int(invalid.sum())
        counts.invalid_dates += bad_dates
        frame[f"{comp.name}\\{sensor}"] = values
    table.frames.append(frame)
    return None


def component_frame(table: ComponentTable) -> pd.DataFrame:
    """The component's readings from all its files, one row per timestamp (the last reading of a
    repeated one kept, and counted as a duplicate)."""
    columns = [TIME, *(f"{table.component.name}\\{s}" for s in table.component.sensors)]
    if not table.frames:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(table.frames, ignore_index=True)
    repeated = frame.duplicated(TIME, keep="last")
    table.duplicate_timestamps = int(repeated.sum())
    for sensor in table.component.sensors:
        table.counts.setdefault(sensor, SensorCounts()).duplicates = table.duplicate_timestamps
    return frame.loc[~repeated.to_numpy()]


def join(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The components' readings joined on their timestamps, in time order."""
    joined: pd.DataFrame | None = None
    for frame in frames:
        indexed = frame.set_index(TIME)
        joined = indexed if joined is None else joined.join(indexed, how="outer")
    if joined is None:
        return pd.DataFrame({TIME: pd.Series([], dtype="datetime64[ns, UTC]")})
    return joined.sort_index().reset_index()


def _share(count: int, rows: int) -> dict[str, Any]:
    return {"Count": int(count), "Percentage": round(100.0 * count / rows, 4) if rows else 0.0}


def _status(flag: bool) -> str:
    return "POTENTIAL_ISSUE_DETECTED" if flag else "NO_ISSUE_DETECTED"


def _two_modes(values: np.ndarray) -> bool:
    """Readings that fall in two separate clusters: the widest empty stretch between sorted values
    is over a quarter of the range and at least a tenth of the readings lie on each side."""
    if len(values) < 20:
        return False
    ordered = np.sort(values)
    spread = ordered[-1] - ordered[0]
    if spread <= 0:
        return False
    gaps = np.diff(ordered)
    at = int(np.argmax(gaps))
    low = (at + 1) / len(ordered)
    return bool(gaps[at] > 0.25 * spread and 0.1 <= low <= 0.9)


def sensor_statistics(
    component: str, sensor: str, frame: pd.DataFrame, counts: SensorCounts
) -> dict[str, Any]:
    """One sensor's entry of ListSensorStatistics, from the joined table and its counts."""
    column = f"{component}\\{sensor}"
    readings = frame.loc[frame[column].notna(), [TIME, column]] if column in frame else frame.iloc[0:0]
    values = readings[column].to_numpy(dtype=float) if len(readings) else np.zeros(0)
    rows = counts.rows
    entry: dict[str, Any] = {
        "ComponentName": component,
        "SensorName": sensor,
        "DataExists": bool(len(values)),
        "MissingValues": _share(counts.missing, rows),
        "InvalidValues": _share(counts.invalid, rows),
        "InvalidDateEntries": _share(counts.invalid_dates, rows + counts.invalid_dates),
        "DuplicateTimestamps": _share(counts.duplicates, rows),
    }
    if not len(values):
        return entry
    distinct = len(np.unique(values))
    categorical = len(values) >= _CATEGORY_MIN_READINGS and distinct <= _MOST_CATEGORIES
    entry["CategoricalValues"] = {
        "Status": _status(categorical),
        **({"NumberOfCategory": distinct} if categorical else {}),
    }
    entry["MultipleOperatingModes"] = {"Status": _status(not categorical and _two_modes(values))}
    times = readings[TIME]
    steps = times.diff().dt.total_seconds().to_numpy()[1:]
    large = 0
    longest = 0.0
    if len(steps):
        median = float(np.median(steps))
        large = int((steps > _GAP_STEPS * median).sum()) if median > 0 else 0
        longest = float(steps.max()) / 86400.0
    entry["LargeTimestampGaps"] = {
        "Status": _status(large > 0),
        **({"NumberOfLargeTimestampGaps": large, "MaxTimestampGapInDays": int(longest)} if large else {}),
    }
    diffs = np.diff(values)
    monotonic = None
    if len(diffs) and np.all(diffs == 0):
        monotonic = "STATIC"
    elif len(diffs) and np.all(diffs >= 0):
        monotonic = "INCREASING"
    elif len(diffs) and np.all(diffs <= 0):
        monotonic = "DECREASING"
    entry["MonotonicValues"] = {
        "Status": _status(monotonic is not None),
        **({"Monotonicity": monotonic} if monotonic else {}),
    }
    entry["DataStartTime"] = times.iloc[0].timestamp()
    entry["DataEndTime"] = times.iloc[-1].timestamp()
    return entry


def quality_summary(tables: Sequence[ComponentTable], statistics: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Lookout's DataQualitySummary of an ingestion."""
    counts = [c for t in tables for c in (t.counts.get(s, SensorCounts()) for s in t.component.sensors)]
    empty = sum(1 for s in statistics if not s["DataExists"])
    short = sum(
        1
        for s in statistics
        if s["DataExists"] and s["DataEndTime"] - s["DataStartTime"] < SHORT_RANGE.total_seconds()
    )
    return {
        "InsufficientSensorData": {
            "MissingCompleteSensorData": {"AffectedSensorCount": empty},
            "SensorsWithShortDateRange": {"AffectedSensorCount": short},
        },
        "MissingSensorData": {
            "AffectedSensorCount": sum(1 for c in counts if c.missing),
            "TotalNumberOfMissingValues": sum(c.missing for c in counts),
        },
        "InvalidSensorData": {
            "AffectedSensorCount": sum(1 for c in counts if c.invalid),
            "TotalNumberOfInvalidValues": sum(c.invalid for c in counts),
        },
        "UnsupportedTimestamps": {
            "TotalNumberOfUnsupportedTimestamps": sum(t.unsupported_timestamps for t in tables)
        },
        "DuplicateTimestamps": {
            "TotalNumberOfDuplicateTimestamps": sum(t.duplicate_timestamps for t in tables)
        },
    }

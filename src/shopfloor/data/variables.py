"""Variables of one multivariate series: read from CSV files, clipped to a time range, aligned on
their timestamps and their gaps filled.

The shapes are those of the Azure Anomaly Detector multivariate API (see
docs/protocols/azure-anomaly-detector-multivariate.md): *OneTable* is one CSV with a ``timestamp``
column and one column per variable; *MultiTable* is one CSV per variable (``timestamp,value``),
the variable named by the file name. A zip holds either (checked as a hostile archive).

:func:`align` puts every variable on one time axis (``Inner``: the timestamps every variable has;
``Outer``: those any variable has), fills the gaps as the fill method says and reports, per
variable, how many values it brought and what share of the aligned rows had to be filled.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.data.archive import Budget, Member, ZipLimits, check_members, ignored, member_parts
from shopfloor.errors import InvalidDataset

TIMESTAMP = "timestamp"
ALIGN_MODES = ("Inner", "Outer")
FILL_METHODS = ("Previous", "Subsequent", "Linear", "Zero", "Fixed")
#: The most variables one series may have (the Azure service's limit).
MAX_VARIABLES = 300
ZIP_MAGIC = b"PK\x03\x04"
#: A zip of a few CSV files: far smaller limits than an image archive's.
CSV_ZIP_LIMITS = ZipLimits(max_members=MAX_VARIABLES + 10, max_total_bytes=512 * 1024**2)


@dataclass(frozen=True)
class AlignPolicy:
    """How variables are put on one time axis: ``mode`` Inner or Outer, ``fill`` one of
    :data:`FILL_METHODS`, ``padding`` the value of ``Fixed``."""

    mode: str = "Outer"
    fill: str = "Linear"
    padding: float | None = None


def _error(where: str, msg: str) -> InvalidDataset:
    return InvalidDataset(f"{where}: {msg}", errors=[{"loc": ["dataSource", where], "msg": msg}])


def _timestamps(values: pd.Series, where: str) -> pd.DatetimeIndex:
    """ISO 8601 timestamps as UTC; naive ones are taken as UTC."""
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise _error(where, f"row {row + 2}: {values.iloc[row]!r} is not an ISO 8601 timestamp")
    return pd.DatetimeIndex(parsed)


def _numbers(values: pd.Series, where: str, name: str) -> np.ndarray:
    numeric = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(numeric.isna().to_numpy() & values.notna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise _error(where, f"row {row + 2}, variable {name!r}: {values.iloc[row]!r} is not a number")
    return numeric.to_numpy(float)


def _csv(data: bytes, where: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _error(where, f"not a readable CSV file: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if TIMESTAMP not in frame.columns:
        raise _error(where, f"no {TIMESTAMP!r} column (columns: {', '.join(frame.columns) or 'none'})")
    return frame


def _series(times: pd.DatetimeIndex, values: np.ndarray, name: str, where: str) -> pd.Series:
    series = pd.Series(values, index=times, name=name)
    dup = series.index.duplicated()
    if dup.any():
        raise _error(where, f"variable {name!r} has timestamp {series.index[dup][0].isoformat()} twice")
    return series.sort_index()


def one_table(data: bytes, where: str) -> dict[str, pd.Series]:
    """The variables of a OneTable CSV: a ``timestamp`` column and one column per variable."""
    frame = _csv(data, where)
    names = [c for c in frame.columns if c != TIMESTAMP]
    if not names:
        raise _error(where, f"no variable column besides {TIMESTAMP!r}")
    times = _timestamps(frame[TIMESTAMP], where)
    return {n: _series(times, _numbers(frame[n], where, n), n, where) for n in names}


def variable_table(data: bytes, name: str, where: str) -> pd.Series:
    """One MultiTable CSV: ``timestamp`` and ``value`` columns, the variable ``name``."""
    frame = _csv(data, where)
    if "value" not in frame.columns:
        raise _error(where, "a MultiTable file needs a 'value' column beside 'timestamp'")
    return _series(_timestamps(frame[TIMESTAMP], where), _numbers(frame["value"], where, name), name, where)


def values_series(name: str, timestamps: list[str], values: list[float | None], where: str) -> pd.Series:
    """One variable given inline (timestamps and values of the same length; None: missing)."""
    if len(timestamps) != len(values):
        raise _error(where, f"variable {name!r}: {len(timestamps)} timestamps but {len(values)} values")
    numbers = np.array([np.nan if v is None else v for v in values], dtype=float)
    return _series(_timestamps(pd.Series(timestamps, dtype=object), where), numbers, name, where)


def is_zip(data: bytes) -> bool:
    return data[:4] == ZIP_MAGIC


def zip_members(data: bytes, where: str) -> dict[str, bytes]:
    """The CSV files of a zip (by member path), checked as a hostile archive; litter is skipped."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _error(where, f"not a readable zip: {exc}") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        check_members(infos, CSV_ZIP_LIMITS)
        budget = Budget(CSV_ZIP_LIMITS)
        out = {}
        for info in infos:
            parts = member_parts(info)
            if not parts or ignored(parts) or not parts[-1].lower().endswith(".csv"):
                continue
            out[info.filename] = budget.read(archive, Member(info, parts))
    if not out:
        raise _error(where, "the zip holds no .csv file")
    return out


def variable_name(path: str) -> str:
    """A MultiTable file's variable: its file name without the ``.csv`` ending."""
    return PurePosixPath(path.replace("\\", "/")).stem


def from_files(files: Mapping[str, bytes], schema: str, where: str) -> dict[str, pd.Series]:
    """The variables of CSV ``files`` (path -> bytes): one OneTable file, or MultiTable files."""
    if schema == "OneTable":
        if len(files) != 1:
            raise _error(where, f"OneTable data is one CSV file; found {len(files)} (use MultiTable)")
        ((path, data),) = files.items()
        return one_table(data, path)
    variables: dict[str, pd.Series] = {}
    for path, data in sorted(files.items()):
        name = variable_name(path)
        if name in variables:
            raise _error(where, f"two files name variable {name!r}")
        variables[name] = variable_table(data, name, path)
    return variables


def frame_variables(frame: pd.DataFrame, time_column: str, where: str) -> dict[str, pd.Series]:
    """The numeric columns of a stored table as variables over its ``time_column``."""
    times = _timestamps(frame[time_column].astype(str), where)
    out = {}
    for name in frame.columns:
        if name == time_column:
            continue
        if pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name]):
            out[str(name)] = _series(times, frame[name].to_numpy(float), str(name), where)
    if not out:
        raise _error(where, f"no numeric column besides {time_column!r}")
    return out


@dataclass(frozen=True)
class Aligned:
    """Variables on one time axis (``frame``: index the timestamps, a column per variable, no gap)
    and each variable's state (Azure's ``variableStates``)."""

    frame: pd.DataFrame
    states: list[dict[str, Any]]


def _fill(frame: pd.DataFrame, policy: AlignPolicy) -> pd.DataFrame:
    if policy.fill == "Zero":
        return frame.fillna(0.0)
    if policy.fill == "Fixed":
        return frame.fillna(float(policy.padding if policy.padding is not None else 0.0))
    if policy.fill == "Previous":
        return frame.ffill().bfill()  # a gap at the start has no previous value: the first one
    if policy.fill == "Subsequent":
        return frame.bfill().ffill()
    # Linear in time between the neighbours; the ends take the nearest value
    return frame.interpolate(method="time", limit_direction="both")


def check_policy(policy: AlignPolicy) -> None:
    """Refuse an unknown align mode or fill method, or Fixed without a padding value."""
    if policy.mode not in ALIGN_MODES:
        raise _policy_error("alignMode", f"{policy.mode!r} is not one of {', '.join(ALIGN_MODES)}")
    if policy.fill not in FILL_METHODS:
        raise _policy_error("fillNAMethod", f"{policy.fill!r} is not one of {', '.join(FILL_METHODS)}")
    if policy.fill == "Fixed" and policy.padding is None:
        raise _policy_error("paddingValue", "fillNAMethod Fixed needs a paddingValue")


def _policy_error(field: str, msg: str) -> InvalidDataset:
    return InvalidDataset(f"alignPolicy.{field}: {msg}", errors=[{"loc": ["alignPolicy", field], "msg": msg}])


def align(
    variables: Mapping[str, pd.Series],
    policy: AlignPolicy,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Aligned:
    """``variables`` between ``start`` and ``end`` (inclusive, when given) on one time axis, their
    gaps filled. Raises :class:`InvalidDataset` for too many variables, a variable with no value in
    the range, or no timestamp left."""
    check_policy(policy)
    if len(variables) > MAX_VARIABLES:
        raise _error("variables", f"{len(variables)} variables; at most {MAX_VARIABLES}")
    clipped = {}
    for name, series in variables.items():
        kept = series
        if start is not None:
            kept = kept[kept.index >= pd.Timestamp(start)]
        if end is not None:
            kept = kept[kept.index <= pd.Timestamp(end)]
        if not kept.notna().any():
            raise _error(name, "no value between startTime and endTime")
        clipped[name] = kept
    frame = pd.concat(clipped, axis=1, join="inner" if policy.mode == "Inner" else "outer").sort_index()
    if frame.empty:
        raise _error("variables", "the variables share no timestamp between startTime and endTime")
    missing = frame.isna()
    states = []
    for name in frame.columns:
        valid = frame.index[~missing[name].to_numpy()]
        states.append(
            {
                "variable": str(name),
                "filledNARatio": float(missing[name].mean()),
                "effectiveCount": int(len(valid)),
                "firstTimestamp": valid[0].isoformat(),
                "lastTimestamp": valid[-1].isoformat(),
            }
        )
    return Aligned(_fill(frame, policy), states)

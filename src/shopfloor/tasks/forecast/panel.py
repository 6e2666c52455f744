"""Many demand series in long form, checked and made regular: the input of every forecaster.

A :class:`Panel` holds one row per (series, period) in statsforecast's layout (``unique_id``,
``ds``, ``y``), sorted, with no gaps: periods are integers (``0, 1, 2, ...`` for a table whose time
column is a period number) or timestamps at an inferred frequency. Missing periods inside a series
are filled with zero demand and counted (a period without a sale is a period of zero demand).

The season length follows the frequency (weekly 52, daily 7, monthly 12, quarterly 4, hourly 24;
none for plain period numbers) unless the request names one; an inferred season longer than half
the shortest history is dropped (season 1) with a note, because no model can estimate it.

Every series is classified by the Syntetos-Boylan scheme (average demand interval ADI and squared
coefficient of variation of the non-zero demands): smooth, erratic, intermittent or lumpy; a panel
with intermittent or lumpy series brings Croston-type models into the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidInput
from shopfloor.tasks.options import option_error

#: Season length per pandas frequency prefix.
SEASONS = {"W": 52, "D": 7, "B": 5, "M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "QE": 4, "h": 24, "H": 24}
#: Syntetos-Boylan cut-offs.
ADI_CUT, CV2_CUT = 1.32, 0.49


@dataclass
class Panel:
    """The regular long-form panel and what was learnt about it."""

    frame: pd.DataFrame  # unique_id (str), ds (int or datetime64), y (float), covariate columns
    freq: Any  # 1 for period numbers, else a pandas frequency string
    season: int
    notes: list[dict[str, str]] = field(default_factory=list)
    filled: int = 0
    covariates: list[str] = field(default_factory=list)
    #: Per series, the covariates of the periods after its last demand value (known in advance).
    future: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return list(pd.unique(self.frame["unique_id"]))

    def lengths(self) -> pd.Series:
        return self.frame.groupby("unique_id", sort=False).size()

    def values(self) -> dict[str, np.ndarray]:
        """Each series' values in time order."""
        return {str(k): g.to_numpy(dtype=float) for k, g in self.frame.groupby("unique_id", sort=False)["y"]}

    def covariate_arrays(self, ids: list[str]) -> list[np.ndarray]:
        """Per series, its covariates over history and known future, ``(periods, k)``, oldest first."""
        own = {
            str(k): g[self.covariates].to_numpy(dtype=float)
            for k, g in self.frame.groupby("unique_id", sort=False)
        }
        return [
            np.concatenate([own[k], self.future.get(k, np.zeros((0, len(self.covariates))))]) for k in ids
        ]

    def last_period(self) -> dict[str, Any]:
        return {str(k): v for k, v in self.frame.groupby("unique_id", sort=False)["ds"].max().items()}


def _periods(raw: pd.Series, time_column: str) -> tuple[pd.Series, Any]:
    """The time column as integers (period numbers) or timestamps, and its frequency."""
    if pd.api.types.is_numeric_dtype(raw):
        values = pd.to_numeric(raw, errors="coerce")
        if values.isna().any() or not np.all(np.equal(np.mod(values, 1), 0)):
            row = int(np.flatnonzero(values.isna() | (np.mod(values.fillna(0), 1) != 0))[0])
            raise InvalidInput(
                f"time column {time_column!r}: row {row} is not a whole period number",
                errors=[{"loc": ["rows", row, time_column], "msg": "not a period number"}],
            )
        return values.astype(np.int64), 1
    stamps = pd.to_datetime(raw, errors="coerce", utc=False)
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna())[0])
        raise InvalidInput(
            f"time column {time_column!r}: row {row} ({raw.iloc[row]!r}) is not a date or period number",
            errors=[{"loc": ["rows", row, time_column], "msg": "not a date"}],
        )
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(None)
    one = np.sort(pd.unique(stamps))
    freq = pd.infer_freq(pd.DatetimeIndex(one[: min(len(one), 500)])) if len(one) >= 3 else None
    if freq is None:
        raise InvalidInput(
            f"time column {time_column!r}: the dates are not evenly spaced (daily, weekly, monthly, ...)",
            errors=[{"loc": ["body", "options", "time_column"], "msg": "no regular frequency"}],
        )
    return stamps, freq


def _season_of(freq: Any) -> int:
    if freq == 1:
        return 1
    base = str(freq).split("-")[0]
    return SEASONS.get(base, SEASONS.get(base.rstrip("S"), 1))


def build_panel(
    frame: pd.DataFrame,
    series_column: str,
    time_column: str,
    value_column: str,
    season_length: int | None = None,
    covariates: list[str] | None = None,
) -> Panel:
    """Check the table and make the regular panel. Raises ``InvalidInput`` naming the column or row."""
    _check_roles(frame, series_column, time_column, value_column)
    y = _demand(frame, value_column)
    ds, freq = _periods(frame[time_column], time_column)
    covariates = list(covariates or [])
    long = _long_table(frame, series_column, time_column, value_column, ds, y, covariates)
    long, future, notes = _split_future(long, freq, covariates)
    missing_y = int(long["y"].isna().sum())
    regular, filled = _fill_gaps(long, freq)
    if covariates:
        regular[covariates] = regular.groupby("unique_id", sort=False)[covariates].ffill()
    if filled or missing_y:
        notes.append(
            {
                "code": "gaps-filled",
                "message": f"{filled + missing_y} missing periods inside series read as zero demand",
            }
        )
    lengths = regular.groupby("unique_id", sort=False).size()
    season = _season(season_length, freq, lengths, notes)
    regular["y"] = regular["y"].fillna(0.0)
    return Panel(regular, freq, int(season), notes, filled + missing_y, covariates, future)


def _check_roles(frame: pd.DataFrame, series_column: str, time_column: str, value_column: str) -> None:
    """The series, time and value columns exist and are three different columns."""
    for option, name in (
        ("series_column", series_column),
        ("time_column", time_column),
        ("value_column", value_column),
    ):
        if name not in frame.columns:
            raise option_error(option, f"no column {name!r} in the table")
    if len({series_column, time_column, value_column}) < 3:
        raise option_error(
            "value_column", "the series, time and value columns must be three different columns"
        )


def _demand(frame: pd.DataFrame, value_column: str) -> pd.Series:
    """The value column as numbers (empty cells stay missing); a cell that is not one is refused."""
    y = pd.to_numeric(frame[value_column], errors="coerce")
    bad = y.isna() & frame[value_column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInput(
            f"value column {value_column!r}: row {row} ({frame[value_column].iloc[row]!r}) is not a number",
            errors=[{"loc": ["rows", row, value_column], "msg": "not a number"}],
        )
    return y


def _long_table(
    frame: pd.DataFrame,
    series_column: str,
    time_column: str,
    value_column: str,
    ds: pd.Series,
    y: pd.Series,
    covariates: list[str],
) -> pd.DataFrame:
    """The rows as (``unique_id``, ``ds``, ``y``, covariates), sorted; a repeated period is refused."""
    ids = frame[series_column].astype(str)
    long = pd.DataFrame({"unique_id": ids.to_numpy(), "ds": ds.to_numpy(), "y": y.to_numpy(dtype=float)})
    for name in covariates:
        long[name] = _covariate(frame, name, {series_column, time_column, value_column})
    dup = long.duplicated(["unique_id", "ds"])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise InvalidInput(
            f"series {long['unique_id'].iloc[row]!r} has two rows for period "
            f"{long['ds'].iloc[row]} (row {row})",
            errors=[{"loc": ["rows", row, time_column], "msg": "duplicate period in a series"}],
        )
    return long.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def _season(season_length: int | None, freq: Any, lengths: pd.Series, notes: list[dict[str, Any]]) -> int:
    """The season: the one asked for (checked against the series), else the frequency's own.

    An inferred season longer than half the shortest series is dropped (season 1), with a note.
    """
    if season_length is not None:
        if (
            isinstance(season_length, bool)
            or not isinstance(season_length, int)
            or not 1 <= season_length <= 366
        ):
            raise option_error("season_length", "must be a whole number of periods from 1 to 366")
        short = lengths[lengths < season_length]
        if len(short):
            names = ", ".join(f"{k} ({v} periods)" for k, v in short.head(5).items())
            raise InvalidInput(
                f"{len(short)} series are shorter than a season of {season_length} periods: {names}",
                errors=[
                    {
                        "loc": ["body", "options", "season_length"],
                        "msg": f"series shorter than {season_length}",
                    }
                ],
            )
        return season_length
    season = _season_of(freq)
    if season > 1 and int(lengths.min()) < 2 * season:
        notes.append(
            {
                "code": "season-dropped",
                "message": f"the {freq} data suggest a season of {season} periods, but the shortest "
                f"series has {int(lengths.min())}: fewer than two seasons, so no seasonality is modelled",
            }
        )
        season = 1
    return season


def _covariate(frame: pd.DataFrame, name: Any, roles: set[str]) -> pd.Series:
    """A known-in-advance covariate column, numeric and complete (booleans read as 0 / 1)."""
    if not isinstance(name, str) or name not in frame.columns or name in roles:
        raise option_error(
            "covariates", f"{name!r} is not a column of the table besides the series, time and value"
        )
    raw = frame[name]
    values = pd.to_numeric(raw.astype(float) if raw.dtype == bool else raw, errors="coerce")
    bad = values.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInput(
            f"covariate {name!r}: row {row} ({raw.iloc[row]!r}) is not a number; covariates are known "
            "for every period, future ones included",
            errors=[{"loc": ["rows", row, name], "msg": "missing or not a number"}],
        )
    return values.astype(float)


def _split_future(
    long: pd.DataFrame, freq: Any, covariates: list[str]
) -> tuple[pd.DataFrame, dict[str, np.ndarray], list[dict[str, str]]]:
    """Rows after each series' last demand value: future covariates when there are covariates,
    else left out with a note. Raises ``InvalidInput`` for a series with no demand value at all."""
    keep, future, dropped = [], {}, 0
    for key, group in long.groupby("unique_id", sort=False):
        known = np.flatnonzero(group["y"].notna().to_numpy())
        if not len(known):
            raise InvalidInput(
                f"series {key!r} has no demand value",
                errors=[{"loc": ["body", "options", "value_column"], "msg": f"series {key!r} is empty"}],
            )
        last = int(known[-1])
        ahead = group.iloc[last + 1 :]
        keep.append(group.iloc[: last + 1])
        if not len(ahead):
            continue
        if not covariates:
            dropped += len(ahead)
            continue
        expected = (
            np.arange(1, len(ahead) + 1) + group["ds"].iloc[last]
            if freq == 1
            else pd.date_range(group["ds"].iloc[last], periods=len(ahead) + 1, freq=freq)[1:]
        )
        if not np.array_equal(np.asarray(ahead["ds"]), np.asarray(expected)):
            raise InvalidInput(
                f"series {key!r}: the future periods of its covariates have gaps",
                errors=[{"loc": ["body", "options", "covariates"], "msg": f"gaps in the future of {key!r}"}],
            )
        future[str(key)] = ahead[covariates].to_numpy(dtype=float)
    notes = []
    if dropped:
        notes.append(
            {
                "code": "trailing-rows-dropped",
                "message": f"{dropped} rows after the last demand value of their series have no value "
                "and no covariates use them: left out",
            }
        )
    return pd.concat(keep, ignore_index=True), future, notes


def _fill_gaps(long: pd.DataFrame, freq: Any) -> tuple[pd.DataFrame, int]:
    """Every series made contiguous from its first to its last period; added periods have NaN demand."""
    parts, filled = [], 0
    for key, group in long.groupby("unique_id", sort=False):
        first, last = group["ds"].iloc[0], group["ds"].iloc[-1]
        full = np.arange(first, last + 1) if freq == 1 else pd.date_range(first, last, freq=freq)
        if len(full) != len(group):
            if freq != 1 and not set(group["ds"]).issubset(set(full)):
                raise InvalidInput(
                    f"series {key!r}: its dates do not fall on the {freq} grid of the others",
                    errors=[{"loc": ["body", "options", "time_column"], "msg": "irregular dates"}],
                )
            group = group.set_index("ds").reindex(full).rename_axis("ds").reset_index()
            group["unique_id"] = key
            filled += int(group["y"].isna().sum())
        parts.append(group)
    return pd.concat(parts, ignore_index=True), filled


def demand_classes(values: dict[str, np.ndarray]) -> dict[str, str]:
    """Syntetos-Boylan class of each series: smooth, erratic, intermittent or lumpy (or zero)."""
    out = {}
    for key, y in values.items():
        nonzero = y[y != 0]
        if not len(nonzero):
            out[key] = "zero"
            continue
        adi = len(y) / len(nonzero)
        cv2 = float((nonzero.std() / nonzero.mean()) ** 2) if len(nonzero) > 1 and nonzero.mean() else 0.0
        if adi < ADI_CUT:
            out[key] = "smooth" if cv2 < CV2_CUT else "erratic"
        else:
            out[key] = "intermittent" if cv2 < CV2_CUT else "lumpy"
    return out

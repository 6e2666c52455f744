"""Check a training request for a sensor task family (rul, anomaly) before a job is queued.

The counterpart of :mod:`shopfloor.data.checks` for histories: it settles which columns are the
asset, the time and the sensors (from the request, else from what the upload declared), and
refuses what would only fail inside the job: unknown columns, a text sensor, a target where the
family derives its own, a single asset, an unsorted or duplicated time index.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shopfloor.data.checks import _unknown
from shopfloor.data.series import SeriesSpec, check_history
from shopfloor.errors import InvalidInput

#: Training holds whole assets out for validation, so it needs several; families may ask for more.
MIN_TRAINING_ASSETS = 2


def _declared(columns: list[dict[str, Any]], role: str) -> list[str]:
    return [c["name"] for c in columns if c.get("role") == role]


def _column(field: str, given: str | None, columns: list[dict[str, Any]], role: str) -> str:
    names = [c["name"] for c in columns]
    if given is None:
        declared = _declared(columns, role)
        if len(declared) == 1:
            return declared[0]
        raise InvalidInput(
            f"name the {role} column in {field!r} (the dataset was not uploaded as a sensor dataset "
            f"with {field})",
            errors=[{"loc": ["body", field], "msg": f"the {role} column is required"}],
        )
    if given not in names:
        raise InvalidInput(
            _unknown(given, names).split(" Available columns:")[0],
            errors=[{"loc": ["body", field], "msg": _unknown(given, names)}],
        )
    return given


def series_request(
    task: str, columns: list[dict[str, Any]], request: dict[str, Any]
) -> tuple[SeriesSpec, list[str]]:
    """The request's series layout and warnings, from the dataset profile alone (no data read).

    Raises :class:`InvalidInput` naming the field: a target given to a family that derives its own,
    an unknown asset, time or excluded column, a text column among the sensors, no sensor left.
    """
    if request.get("target"):
        raise InvalidInput(
            f"{task} models take no target column: rul derives the remaining life from each asset's "
            "history and anomaly learns from normal operation without labels; leave 'target' out",
            errors=[{"loc": ["body", "target"], "msg": f"not used by {task}"}],
        )
    if request.get("metric") is not None:
        raise InvalidInput(
            f"{task} models are chosen by their own validation figure; leave 'metric' out",
            errors=[{"loc": ["body", "metric"], "msg": f"not an option of {task}"}],
        )
    asset = _column("asset_column", request.get("asset_column"), columns, "asset")
    time = _column("time_column", request.get("time_column"), columns, "time")
    names = [c["name"] for c in columns]
    exclude = list(request.get("exclude") or [])
    for i, name in enumerate(exclude):
        if name not in names:
            raise InvalidInput(
                _unknown(name, names).split(" Available columns:")[0],
                errors=[{"loc": ["body", "exclude", i], "msg": _unknown(name, names)}],
            )
        if name in (asset, time):
            raise InvalidInput(
                f"{name!r} is the asset or time column; it cannot be excluded",
                errors=[{"loc": ["body", "exclude", i], "msg": "asset or time column"}],
            )
    warnings: list[str] = []
    sensors: list[str] = []
    for column in columns:
        name = column["name"]
        if name in (asset, time) or name in exclude:
            continue
        if column.get("role") == "setting":
            warnings.append(f"{name!r} is an operating setting, not used as a sensor")
            continue
        series = column.get("series") or {}
        if series.get("dropped"):
            warnings.append(f"sensor {name!r} is not used: {series.get('reason') or 'dropped at upload'}")
            continue
        if column.get("type") not in ("numeric", "boolean"):
            raise InvalidInput(
                f"column {name!r} is {column.get('type')}, not numeric: sensors must be numbers; "
                "add it to 'exclude' if it is not a sensor",
                errors=[{"loc": ["body", "exclude"], "msg": f"non-numeric column {name!r}"}],
            )
        sensors.append(name)
    if not sensors:
        raise InvalidInput(
            "no sensor column is left after the asset, time, settings and excluded columns",
            errors=[{"loc": ["body", "exclude"], "msg": "no sensor left"}],
        )
    return SeriesSpec(asset=asset, time=time, sensors=tuple(sensors)), warnings


def dataset_rows(i: int | None, column: str | None) -> list[Any]:
    """Locations in a stored dataset: data row ``i`` counted from 1, then the column."""
    row = ["row", i + 1] if i is not None else []
    return ["dataset", *row, *(["column", column] if column is not None else [])]


def check_training_history(
    frame: pd.DataFrame, spec: SeriesSpec, min_assets: int = MIN_TRAINING_ASSETS
) -> None:
    """The data itself: numeric sensors with values, time increasing per asset, enough assets."""
    check_history(frame, spec, where=dataset_rows, min_assets=max(min_assets, MIN_TRAINING_ASSETS))

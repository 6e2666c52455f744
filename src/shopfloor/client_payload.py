"""What the SDK sends: JSON-safe records and the parts of a request's URL.

Apart from :mod:`shopfloor.client` so that the SDK's mixins (``client_drift``) use the same
helpers without importing the client back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from shopfloor.errors import InvalidInput

Records = Iterable[Mapping[str, Any]] | Any  # a list of dicts or a pandas DataFrame


def jsonable(value: Any) -> Any:
    """Make one value JSON-safe: NaN/NaT -> None, numpy scalars -> Python, datetimes -> ISO 8601."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    try:
        if value != value:  # NaN-like (pd.NA raises, pd.NaT compares unequal to itself)
            return None
    except (TypeError, ValueError):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalar
        return jsonable(value.item())
    return value


def records_payload(records: Records) -> list[dict[str, Any]]:
    """Normalise ``records`` (a list of dicts, one dict, or a pandas DataFrame) to JSON-safe dicts."""
    if hasattr(records, "to_dict") and hasattr(records, "columns"):
        rows = records.to_dict("records")
    elif isinstance(records, Mapping):
        rows = [records]
    else:
        rows = list(records)
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                f"record {i} is {type(row).__name__}, expected an object of column -> value",
                errors=[{"loc": ["records", i], "msg": "expected an object"}],
            )
        out.append(jsonable(row))
    return out


def segment(value: str | int) -> str:
    """One path segment (a model name, a version), escaped."""
    return quote(str(value), safe="")


def version_params(version: int | str | None, **more: Any) -> dict[str, Any]:
    """Query parameters: ``more`` without the unset ones, and ``version`` when given."""
    params = {k: v for k, v in more.items() if v is not None}
    if version is not None:
        params["version"] = version
    return params

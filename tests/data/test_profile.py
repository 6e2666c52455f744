from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.parse import read_table
from shopfloor.data.profile import column_types, profile_frame

AI4I_TYPES = {
    "UDI": "id",
    "Product ID": "id",
    "Type": "categorical",
    "Air temperature [K]": "numeric",
    "Process temperature [K]": "numeric",
    "Rotational speed [rpm]": "numeric",
    "Torque [Nm]": "numeric",
    "Tool wear [min]": "numeric",
    # 0/1 integer columns are boolean; the trainer still treats the target as classes.
    "Machine failure": "boolean",
    "TWF": "boolean",
    "HDF": "boolean",
    "PWF": "boolean",
    "OSF": "boolean",
    "RNF": "boolean",
}


def _walk(value: object) -> None:
    """Every leaf is a plain JSON type (no numpy scalars, no NaN)."""
    if isinstance(value, dict):
        for item in value.values():
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)
    else:
        assert value is None or type(value) in (int, float, str, bool), (value, type(value))


def test_ai4i_profile(ai4i_path: Path) -> None:
    profile = profile_frame(read_table(ai4i_path))
    assert column_types(profile) == AI4I_TYPES
    by_name = {column["name"]: column for column in profile}
    torque = by_name["Torque [Nm]"]["stats"]
    assert torque["min"] == pytest.approx(3.8) and torque["max"] == pytest.approx(76.6)
    assert set(torque) == {"min", "max", "mean", "std", "median"}
    kinds = by_name["Type"]["stats"]
    assert kinds["distinct"] == 3
    assert kinds["top"][0] == {"value": "L", "count": 6000}
    assert by_name["Machine failure"]["stats"]["top"] == [
        {"value": 0, "count": 9661},
        {"value": 1, "count": 339},
    ]
    assert by_name["UDI"]["stats"] == {"distinct": 10_000}
    assert all(column["missing"] == 0 for column in profile)
    _walk(profile)
    json.dumps(profile, allow_nan=False)


def test_type_rules() -> None:
    n = 40
    frame = pd.DataFrame(
        {
            "flag": [True, False] * (n // 2),
            "yes_no": ["Yes", "no"] * (n // 2),
            "counter": range(1, n + 1),
            "speed": np.linspace(1000, 2000, n),
            "serial": [f"SN{i:05d}" for i in range(n)],
            "note": [f"replaced the worn bearing on spindle {i} after vibration alarm" for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
            "line": ["L1", "L2", "L3", "L4"] * (n // 4),
            "stamp": pd.date_range("2024-01-01", periods=n, freq="D"),
        }
    )
    types = column_types(profile_frame(frame))
    assert types == {
        "flag": "boolean",
        "yes_no": "boolean",
        "counter": "id",
        "speed": "numeric",
        "serial": "id",
        "note": "text",
        "when": "datetime",
        "line": "categorical",
        "stamp": "datetime",
    }


def test_small_tables_do_not_become_ids() -> None:
    types = column_types(profile_frame(pd.DataFrame({"x": [1, 2, 3], "s": ["a", "b", "c"]})))
    assert types == {"x": "numeric", "s": "categorical"}


def test_stats_with_missing_values_are_json_safe() -> None:
    frame = pd.DataFrame(
        {
            "num": [1.0, np.nan, 3.0, np.inf],
            "cat": ["a", None, "a", "b"],
            "empty": [np.nan] * 4,
            "when": pd.to_datetime(["2024-01-01", None, "2024-02-01", "2024-03-01"]),
            "mixed": ["12.5", "13", "PM01", "11"] * 1,
        }
    )
    profile = profile_frame(frame)
    by_name = {column["name"]: column for column in profile}
    assert by_name["num"]["missing"] == 1
    assert by_name["num"]["stats"]["max"] == 3.0
    assert by_name["num"]["stats"]["non_numeric"] == 1  # the infinity
    assert by_name["empty"]["stats"]["mean"] is None
    assert by_name["when"]["stats"] == {"min": "2024-01-01T00:00:00", "max": "2024-03-01T00:00:00"}
    assert by_name["cat"]["stats"]["top"] == [{"value": "a", "count": 2}, {"value": "b", "count": 1}]
    assert by_name["mixed"]["type"] == "categorical"  # 1 of 4 is not a number: too many to call numeric
    _walk(profile)
    json.dumps(profile, allow_nan=False)


def test_numeric_strings_with_a_stray_value_are_numeric() -> None:
    values = [str(i * 1.5) for i in range(100)] + ["PM01"]
    column = profile_frame(pd.DataFrame({"cost": values}))[0]
    assert column["type"] == "numeric"
    assert column["stats"]["non_numeric"] == 1


def test_text_stats() -> None:
    column = profile_frame(
        pd.DataFrame({"t": ["a long description of the fault " * 2, "short but many words here"]})
    )[0]
    assert column["type"] == "text"
    assert column["stats"]["distinct"] == 2
    assert isinstance(column["stats"]["mean_length"], float)

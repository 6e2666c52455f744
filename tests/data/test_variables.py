"""Variables of a multivariate series: read from OneTable and MultiTable CSVs, aligned, gaps filled."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from shopfloor.data import variables as v
from shopfloor.errors import InvalidDataset

ONE = b"timestamp,a,b\n2026-01-01T00:00:00Z,1,10\n2026-01-01T00:01:00Z,,20\n2026-01-01T00:02:00Z,3,30\n"


def test_one_table_reads_every_variable_over_utc_timestamps() -> None:
    found = v.one_table(ONE, "x.csv")
    assert list(found) == ["a", "b"]
    assert str(found["a"].index.tz) == "UTC" and np.isnan(found["a"].iloc[1])


@pytest.mark.parametrize(
    ("fill", "padding", "expected"),
    [("Linear", None, 2.0), ("Previous", None, 1.0), ("Subsequent", None, 3.0), ("Zero", None, 0.0),
     ("Fixed", 7.5, 7.5)],
)
def test_gaps_are_filled_as_the_method_says(fill: str, padding: float | None, expected: float) -> None:
    aligned = v.align(v.one_table(ONE, "x.csv"), v.AlignPolicy("Outer", fill, padding))
    assert aligned.frame["a"].tolist() == [1.0, expected, 3.0]
    state = aligned.states[0]
    assert state["variable"] == "a" and state["effectiveCount"] == 2
    assert state["filledNARatio"] == pytest.approx(1 / 3)
    assert state["firstTimestamp"].startswith("2026-01-01T00:00:00") and state["lastTimestamp"].startswith(
        "2026-01-01T00:02:00"
    )


def _zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def test_multi_table_variables_are_aligned_inner_or_outer() -> None:
    data = _zip({
        "x/a.csv": "timestamp,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,2\n",
        "x/b.csv": "timestamp,value\n2026-01-01T00:01:00Z,5\n2026-01-01T00:02:00Z,6\n",
        "__MACOSX/x/._a.csv": "litter",
        "x/readme.txt": "not a variable",
    })
    found = v.from_files(v.zip_members(data, "s3://b/x.zip"), "MultiTable", "s3://b/x.zip")
    assert sorted(found) == ["a", "b"]
    inner = v.align(found, v.AlignPolicy("Inner", "Linear"))
    assert len(inner.frame) == 1 and inner.frame.iloc[0].tolist() == [2.0, 5.0]
    outer = v.align(found, v.AlignPolicy("Outer", "Previous"))
    assert outer.frame["b"].tolist() == [5.0, 5.0, 6.0] and outer.frame["a"].tolist() == [1.0, 2.0, 2.0]
    assert [s["filledNARatio"] for s in outer.states] == pytest.approx([1 / 3, 1 / 3])


def test_the_time_range_is_inclusive() -> None:
    import pandas as pd

    found = v.one_table(ONE, "x.csv")
    start, end = pd.Timestamp("2026-01-01T00:01:00Z"), pd.Timestamp("2026-01-01T00:02Z")
    kept = v.align(found, v.AlignPolicy(), start, end)
    assert len(kept.frame) == 2


@pytest.mark.parametrize(
    ("data", "schema", "message"),
    [
        (b"time,a\n2026-01-01,1\n", "OneTable", "no 'timestamp' column"),
        (b"timestamp,a\nyesterday,1\n", "OneTable", "row 2: 'yesterday' is not an ISO 8601 timestamp"),
        (b"timestamp,a\n2026-01-01T00:00:00Z,high\n", "OneTable", "variable 'a': 'high' is not a number"),
        (b"timestamp,a\n2026-01-01T00:00:00Z,1\n2026-01-01T00:00:00Z,2\n", "OneTable", "twice"),
        (b"timestamp\n2026-01-01T00:00:00Z\n", "OneTable", "no variable column"),
        (b"timestamp,a\n2026-01-01T00:00:00Z,1\n", "MultiTable", "'value' column"),
    ],
)
def test_bad_files_are_refused_naming_file_and_row(data: bytes, schema: str, message: str) -> None:
    with pytest.raises(InvalidDataset) as caught:
        v.align(v.from_files({"dir/a.csv": data}, schema, "src"), v.AlignPolicy())
    assert message in caught.value.detail and "dir/a.csv" in caught.value.detail


def test_policy_and_range_errors() -> None:
    found = v.one_table(ONE, "x.csv")
    with pytest.raises(InvalidDataset, match="paddingValue"):
        v.align(found, v.AlignPolicy("Outer", "Fixed"))
    with pytest.raises(InvalidDataset, match="Sideways"):
        v.align(found, v.AlignPolicy("Sideways", "Linear"))
    import pandas as pd

    with pytest.raises(InvalidDataset, match="no value between startTime and endTime"):
        v.align(found, v.AlignPolicy(), pd.Timestamp("2027-01-01T00:00:00Z"))
    with pytest.raises(InvalidDataset, match="OneTable data is one CSV file"):
        v.from_files({"a.csv": ONE, "b.csv": ONE}, "OneTable", "src")
    with pytest.raises(InvalidDataset, match="no .csv file"):
        v.zip_members(_zip({"a.txt": "x"}), "src")
    with pytest.raises(InvalidDataset, match="climbs out"):
        v.zip_members(_zip({"../a.csv": "timestamp,value\n"}), "src")


def test_inline_values_need_as_many_timestamps() -> None:
    with pytest.raises(InvalidDataset, match="2 timestamps but 1 values"):
        v.values_series("a", ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"], [1.0], "variables[0]")
    times = ["2026-01-01T00:01:00Z", "2026-01-01T00:00:00Z"]
    series = v.values_series("a", times, [2.0, None], "variables[0]")
    assert np.isnan(series.iloc[0]) and series.iloc[1] == 2.0

"""Lookout's CSV layout: key patterns, the schema, and the counts behind the data-quality summary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shopfloor.data import lookout_ingest as li
from shopfloor.errors import InvalidInput

PUMP = li.Component("pump", "Timestamp", ("flow", "temp"))


@pytest.mark.parametrize(
    ("prefix", "pattern", "key", "component"),
    [
        ("train/", None, "train/pump/a.csv", "pump"),
        ("train", None, "train/pump/2024/a.csv", "pump"),
        ("train/", None, "train/pumpx/a.csv", None),
        ("train/", None, "train/pump_a.csv", None),
        ("train/", "{prefix}/{component}_*", "train/pump_2024.csv", "pump"),
        ("train/", "{prefix}/{component}*", "train/pump-room.csv", "pump-room"),
        ("", None, "pump/a.csv", "pump"),
        ("data.v1/", None, "dataxv1/pump/a.csv", None),  # the dot is literal
    ],
)
def test_key_patterns(prefix: str, pattern: str | None, key: str, component: str | None) -> None:
    matchers = {name: li.key_matcher(prefix, pattern, name) for name in ("pump", "pump-room")}
    assert li.component_of(key, matchers) == component


def test_schema_read_and_refused() -> None:
    columns = [{"Name": "Timestamp", "Type": "DATETIME"}, {"Name": "flow", "Type": "DOUBLE"}]
    parsed = li.parse_schema(json.dumps({"Components": [{"ComponentName": "pump", "Columns": columns}]}))
    assert parsed == [li.Component("pump", "Timestamp", ("flow",))]
    twice = {"Components": [{"ComponentName": "p", "Columns": columns}] * 2}
    with pytest.raises(InvalidInput, match="named twice"):
        li.parse_schema(json.dumps(twice))
    slash = [columns[0], {"Name": "a\\b", "Type": "DOUBLE"}]
    with pytest.raises(InvalidInput, match="no '\\\\'"):
        li.parse_schema(json.dumps({"Components": [{"ComponentName": "p", "Columns": slash}]}))


def test_counts_of_one_file() -> None:
    table = li.ComponentTable(PUMP)
    data = (
        b"Timestamp,flow,temp,extra\n"
        b"2024-01-01 00:00:00,1.0,20,x\n"
        b"2024-01-01T00:01:00Z,,21,x\n"  # a missing flow; ISO 8601 with a zone is read too
        b"2024-01-01 00:02:00,abc,inf,x\n"  # two invalid values
        b"yesterday,3.0,22,x\n"  # an unsupported timestamp: the row is dropped
        b"2024-01-01 00:02:00,4.0,23,x\n"  # a repeated timestamp: the last reading kept
    )
    assert li.read_component_file(table, data, "s3://b/pump/a.csv") is None
    frame = li.component_frame(table)
    assert len(frame) == 3 and frame["pump\\flow"].iloc[-1] == 4.0
    assert (table.unsupported_timestamps, table.duplicate_timestamps) == (1, 1)
    flow, temp = table.counts["flow"], table.counts["temp"]
    assert (flow.rows, flow.missing, flow.invalid, flow.invalid_dates) == (4, 1, 1, 1)
    assert (temp.missing, temp.invalid) == (0, 1)


def test_files_that_do_not_fit_are_discarded() -> None:
    table = li.ComponentTable(PUMP)
    assert "lacks" in str(li.read_component_file(table, b"Timestamp,flow\n2024-01-01,1\n", "f.csv"))
    assert "g.csv: not a CSV" in str(li.read_component_file(table, b"\xff\xfe\x00", "g.csv"))
    assert "h.csv: not a CSV" in str(li.read_component_file(table, b"", "h.csv"))
    assert table.frames == [] and table.counts == {}


def test_statistics_of_a_sensor() -> None:
    times = pd.date_range("2024-01-01", periods=200, freq="min", tz="UTC")
    times = times.append(pd.DatetimeIndex([times[-1] + pd.Timedelta(days=3)]))
    values = np.r_[np.tile([1.0, 2.0, 3.0], 67)[:200], 1.0]
    frame = pd.DataFrame({li.TIME: times, "pump\\mode": values})
    stats = li.sensor_statistics("pump", "mode", frame, li.SensorCounts(rows=201))
    assert stats["CategoricalValues"] == {"Status": "POTENTIAL_ISSUE_DETECTED", "NumberOfCategory": 3}
    assert stats["LargeTimestampGaps"] == {
        "Status": "POTENTIAL_ISSUE_DETECTED",
        "NumberOfLargeTimestampGaps": 1,
        "MaxTimestampGapInDays": 3,
    }
    assert stats["MonotonicValues"]["Status"] == "NO_ISSUE_DETECTED"
    two = np.r_[np.random.default_rng(0).normal(10, 0.5, 100), np.random.default_rng(1).normal(50, 0.5, 101)]
    frame["pump\\mode"] = two
    modes = li.sensor_statistics("pump", "mode", frame, li.SensorCounts(rows=201))["MultipleOperatingModes"]
    assert modes == {"Status": "POTENTIAL_ISSUE_DETECTED"}
    empty = li.sensor_statistics("pump", "none", frame, li.SensorCounts())
    assert empty["DataExists"] is False and "DataStartTime" not in empty


def test_schema_from_the_files() -> None:
    anyone = li.key_matcher("train/", None, None)
    found = anyone.fullmatch("train/pump/2024/a.csv")
    assert found is not None and found.group("component") == "pump"
    assert anyone.fullmatch("train/README.txt") is None
    header = li.csv_header(b"Timestamp, flow ,temp\n2024-01-01,1,2\n")
    assert header == ["Timestamp", "flow", "temp"]
    schema = json.loads(li.infer_schema({"pump": [("s3://b/train/pump/a.csv", header)] * 2}))
    assert li.parse_schema(json.dumps(schema)) == [li.Component("pump", "Timestamp", ("flow", "temp"))]
    with pytest.raises(InvalidInput, match="b.csv: its columns differ"):
        li.infer_schema({"pump": [("a.csv", header), ("b.csv", ["Timestamp", "flow"])]})
    with pytest.raises(InvalidInput, match="c.csv: needs a timestamp column"):
        li.infer_schema({"pump": [("c.csv", ["Timestamp"])]})

"""Sensor datasets through POST /v1/datasets: the series report, and every refusal stores nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

Api = Any

COLUMNS = "engine,cycle,alt,mach,tra,s1,s2,s3"


def _upload(api: Api, content: bytes, filename: str = "t.csv", **fields: str) -> Any:
    return api.client.post(
        "/v1/datasets",
        files={"file": (filename, content, "text/plain")},
        data=fields,
        headers=api.headers("builder"),
    )


def _assert_nothing_stored(api: Api) -> None:
    assert api.platform.store.list_datasets("default") == []
    assert api.client.get("/v1/datasets", headers=api.headers()).json()["items"] == []
    assert api.files_under("default") == []
    assert api.scratch_files() == []


def engines_txt(engines: int = 6, cycles: int = 40) -> bytes:
    """Headerless, space-separated, trailing spaces: alt/mach in 3 operating modes, tra and s2 constant."""
    rng = np.random.default_rng(0)
    centres = [(0.0, 0.0), (20.0, 0.7), (42.0, 0.84)]
    lines = []
    for engine in range(1, engines + 1):
        for cycle in range(1, cycles + 1):
            alt, mach = centres[int(rng.integers(3))]
            alt, mach = alt + rng.normal(0, 0.01), mach + rng.normal(0, 0.0005)
            s1 = 640 + 0.02 * cycle + rng.normal(0, 0.3)
            s3 = 1400 + 10 * mach + rng.normal(0, 1)
            fields = [engine, cycle, f"{alt:.4f}", f"{mach:.4f}", "100.0", f"{s1:.2f}", "14.62", f"{s3:.2f}"]
            lines.append(" ".join(map(str, fields)) + "  \n")
    return "".join(lines).encode()


SENSOR_FIELDS = {
    "format": "whitespace",
    "columns": COLUMNS,
    "asset_column": "engine",
    "time_column": "cycle",
    "settings_columns": "alt, mach, tra",
}


def test_whitespace_sensor_dataset_is_reported(api: Api) -> None:
    response = _upload(api, engines_txt(), "train_engines.txt", **SENSOR_FIELDS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["format"] == "whitespace" and body["rows"] == 240 and body["name"] == "train_engines"
    series = body["series"]
    assert series["asset_column"] == "engine" and series["time_column"] == "cycle"
    assert series["settings_columns"] == ["alt", "mach", "tra"]
    assert series["assets"] == 6 and series["points_per_asset"] == {"min": 40, "median": 40.0, "max": 40}
    assert series["interval"] == {"value": 1.0, "unit": "cycles"}
    assert series["sensors"] == ["s1", "s3"]
    assert series["dropped"] == [
        {"name": "tra", "reason": "constant: every value is 100"},
        {"name": "s2", "reason": "constant: every value is 14.62"},
    ]
    assert series["operating_modes"] == 3
    assert any("3 operating modes in alt, mach" in note for note in series["notes"])
    columns = {c["name"]: c for c in body["columns"]}
    assert [columns[n]["role"] for n in ("engine", "cycle", "alt", "s1")] == [
        "asset",
        "time",
        "setting",
        "sensor",
    ]
    assert columns["engine"]["series"]["assets"] == 6
    assert columns["alt"]["series"]["operating_modes"]["k"] == 3
    assert columns["s2"]["series"]["dropped"] is True and columns["s1"]["series"]["dropped"] is False
    got = api.client.get(f"/v1/datasets/{body['id']}", headers=api.headers()).json()
    assert got["series"] == series and got["columns"] == body["columns"]
    listed = api.client.get("/v1/datasets", headers=api.headers()).json()["items"]
    assert listed[0]["series"] == series
    assert api.scratch_files() == []


def test_plain_upload_has_no_series(api: Api) -> None:
    response = _upload(api, b"a,b\n1,2\n3,4\n")
    assert response.status_code == 201, response.text
    assert response.json()["series"] is None
    assert all(c["role"] is None and c["series"] is None for c in response.json()["columns"])


def test_timestamps_as_time_column(api: Api) -> None:
    rows = ["machine,ts,temp,load"]
    for machine in ("press-1", "press-2"):
        for i in range(20):
            minute, second = divmod(30 * i, 60)
            rows.append(f"{machine},2024-05-01T06:{minute:02d}:{second:02d}Z,{60 + i % 7},{i % 5}")
    response = _upload(api, "\n".join(rows).encode(), asset_column="machine", time_column="ts")
    assert response.status_code == 201, response.text
    series = response.json()["series"]
    assert series["interval"] == {"value": 30.0, "unit": "seconds"}
    assert series["assets"] == 2 and series["sensors"] == ["temp", "load"]
    assert series["settings_columns"] == [] and series["operating_modes"] is None


GOOD = "m,t,mode,v1,v2\nA,1,0,1.5,2\nA,2,0,1.6,2\nB,1,1,1.7,2\nB,2,1,1.8,3\n"
SERIES = {"asset_column": "m", "time_column": "t", "settings_columns": "mode"}


@pytest.mark.parametrize(
    ("content", "fields", "needle", "loc"),
    [
        (
            GOOD.replace("A,2,", "A,0,"),
            SERIES,
            "time goes backwards at row 2",
            ["file", "row", 2, "column", "t"],
        ),
        (GOOD.replace("A,2,", "A,1,"), SERIES, "repeats row 1", ["file", "row", 2, "column", "t"]),
        (GOOD.replace(",2\n", ",\n").replace(",3\n", ",\n"), SERIES, "'v2' has no value at all", None),
        (
            GOOD.replace("1.7", "high"),
            SERIES,
            "non-numeric value 'high' at row 3",
            ["file", "row", 3, "column", "v1"],
        ),
        (GOOD.replace("B,2,1", "B,2,x"), SERIES, "setting 'mode' has the value 'x' at row 4", None),
        (
            GOOD,
            {**SERIES, "asset_column": "unit"},
            "'unit' not among the file's columns",
            ["body", "asset_column"],
        ),
        (GOOD, {**SERIES, "time_column": "cycle"}, "'cycle' not among", ["body", "time_column"]),
        (GOOD, {**SERIES, "settings_columns": "mode,alt"}, "'alt' not among", ["body", "settings_columns"]),
        (GOOD, {"asset_column": "m"}, "both asset_column and time_column", ["body", "time_column"]),
        (
            GOOD,
            {"settings_columns": "mode"},
            "needs asset_column and time_column",
            ["body", "settings_columns"],
        ),
        (GOOD, {"asset_column": "m", "time_column": "m"}, "both 'm'", ["body", "time_column"]),
        (GOOD, {**SERIES, "settings_columns": "mode,t"}, "'t' appears twice", ["body", "settings_columns"]),
        (GOOD, {"format": "excel"}, "unknown format 'excel'", ["body", "format"]),
        (GOOD, {"columns": "a,a"}, "duplicate name", ["body", "columns"]),
        (b"1 1 2.0\n1 2 2.1\n", {"format": "whitespace"}, "line 1 is all numbers", ["body", "columns"]),
        (b"1 1 2.0\n1 2 2.1\n", {"format": "whitespace", "columns": "a,b"}, "2 names", ["body", "columns"]),
        (b"1 1 2.0\n1 2 2.1 7\n", {"format": "whitespace", "columns": "a,b,c"}, "line 2 has 4 fields", None),
        (
            b"a b\n1 1\n",
            {"format": "whitespace", "asset_column": "a", "time_column": "b"},
            "sensor column",
            None,
        ),
    ],
    ids=[
        "unsorted-time",
        "duplicated-time",
        "sensor-entirely-missing",
        "non-numeric-sensor",
        "non-numeric-setting",
        "unknown-asset",
        "unknown-time",
        "unknown-setting",
        "asset-without-time",
        "settings-without-layout",
        "asset-is-time",
        "setting-is-time",
        "unknown-format",
        "duplicate-names",
        "whitespace-without-names",
        "names-count",
        "ragged-whitespace",
        "no-sensor",
    ],
)
def test_refusals_store_nothing(
    api: Api, content: str | bytes, fields: dict[str, str], needle: str, loc: list[Any] | None
) -> None:
    data = content.encode() if isinstance(content, str) else content
    response = _upload(api, data, **fields)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert needle in problem["detail"], problem
    if loc is not None:
        assert problem["errors"][0]["loc"] == loc
    _assert_nothing_stored(api)


def _relay(api: Api, who: str = "builder") -> Any:
    """An SDK client whose requests go to the in-process app (multipart encoding as on the wire)."""
    import httpx

    from shopfloor.client import Client

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = api.client.request(request.method, request.url.path, content=request.read(), headers=headers)
        kept = {
            k: v for k, v in answer.headers.items() if k.lower() not in ("content-encoding", "content-length")
        }
        return httpx.Response(answer.status_code, content=answer.content, headers=kept)

    return Client("http://shopfloor.test", api.keys[who], transport=httpx.MockTransport(handler))


def test_sdk_and_cli_send_the_sensor_options(
    api: Api, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from shopfloor import cli_common
    from shopfloor.cli import app

    path = tmp_path / "engines.txt"
    path.write_bytes(engines_txt())
    with _relay(api) as client:
        ds = client.upload_dataset(
            path,
            format="whitespace",
            columns=COLUMNS.split(","),
            asset_column="engine",
            time_column="cycle",
            settings_columns=["alt", "mach", "tra"],
        )
    assert ds["name"] == "engines" and ds["series"]["operating_modes"] == 3
    monkeypatch.setattr(cli_common, "make_client", lambda: _relay(api))
    args = ["datasets", "upload", str(path), "--name", "engines-cli", "--format", "whitespace"]
    args += ["--columns", COLUMNS, "--asset-column", "engine", "--time-column", "cycle"]
    result = CliRunner().invoke(app, [*args, "--settings-columns", "alt,mach,tra"])
    assert result.exit_code == 0, result.output
    assert "sensor dataset: 6 assets, 2 sensors kept, 3 operating mode(s)" in result.stderr
    assert "s2 (constant: every value is 14.62)" in result.stderr
    assert sorted(d.name for d in api.platform.store.list_datasets("default")) == ["engines", "engines-cli"]

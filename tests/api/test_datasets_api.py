"""Dataset upload through the API: the profile, and every rejection leaves nothing behind."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

Api = Any


def _upload(api: Api, content: bytes, filename: str = "t.csv", name: str | None = None, who: str = "builder"):
    data = {"name": name} if name else {}
    return api.client.post(
        "/v1/datasets", files={"file": (filename, content, "text/csv")}, data=data, headers=api.headers(who)
    )


def _assert_nothing_stored(api: Api) -> None:
    assert api.platform.store.list_datasets("default") == []
    assert api.files_under("default") == []
    assert api.scratch_files() == []


def test_upload_ai4i_profiles_columns(api: Api, ai4i_path: Path) -> None:
    response = _upload(api, ai4i_path.read_bytes(), "ai4i2020.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rows"] == 10000 and body["version"] == 1 and body["name"] == "ai4i2020"
    assert len(body["sha256"]) == 64
    types = {c["name"]: c["type"] for c in body["columns"]}
    assert types["UDI"] == "id"
    assert types["Type"] == "categorical"
    assert types["Air temperature [K]"] == "numeric"
    torque = next(c for c in body["columns"] if c["name"] == "Torque [Nm]")
    assert torque["missing"] == 0 and 39 < torque["stats"]["mean"] < 41
    again = _upload(api, ai4i_path.read_bytes(), "ai4i2020.csv")
    assert again.json()["version"] == 2
    got = api.client.get(f"/v1/datasets/{body['id']}", headers=api.headers()).json()
    assert got["columns"] == body["columns"]
    assert len(api.client.get("/v1/datasets", headers=api.headers()).json()["items"]) == 2
    assert api.scratch_files() == []


def test_parquet_upload(api: Api) -> None:
    buf = io.BytesIO()
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"]}).to_parquet(buf, index=False)
    response = _upload(api, buf.getvalue(), "t.parquet")
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "parquet" and response.json()["rows"] == 3


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (b"", 422, "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 415, "CSV"),
        (b"PK\x03\x04" + b"\x00" * 64, 422, "not a readable zip"),  # a zip is read as images
        (b"a,b\n1,2\n\xff\xfe,3\n", 422, "UTF-8"),
        (b"a,b\n1,2\n3,4,5\n", 422, "line 3"),
        (b"a,b\n1,2\n3\n", 422, "line 3"),
        (b"a,a\n1,2\n", 422, "duplicate"),
        (b"a,,c\n1,2,3\n", 422, "blank"),
    ],
    ids=[
        "empty",
        "png",
        "zip",
        "not-utf8",
        "ragged-long",
        "ragged-short",
        "duplicate-columns",
        "blank-column",
    ],
)
def test_bad_files_are_rejected_and_leave_nothing(api: Api, content: bytes, status: int, needle: str) -> None:
    response = _upload(api, content)
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert needle.lower() in (problem["detail"] + str(problem["errors"])).lower()
    _assert_nothing_stored(api)


def test_file_over_the_size_limit_is_rejected(api: Api) -> None:
    big = b"a,b\n" + b"1,2\n" * 400_000  # ~1.6 MB against a 1 MB limit
    response = _upload(api, big)
    assert response.status_code == 413, response.text
    assert "SHOPFLOOR_MAX_UPLOAD_MB" in response.json()["detail"]
    _assert_nothing_stored(api)


def test_blank_name_rejected(api: Api) -> None:
    response = _upload(api, b"a,b\n1,2\n", name="   ")
    assert response.status_code == 422
    _assert_nothing_stored(api)

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.data.parse import read_table
from shopfloor.errors import InvalidDataset, ShopfloorError, UnsupportedMediaType

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def write(tmp_path: Path, data: bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- positive cases ---------------------------------------------------------------------------


def test_ai4i_parses(ai4i_path: Path) -> None:
    frame = read_table(ai4i_path)
    assert frame.shape == (10_000, 14)
    assert frame.columns[0] == "UDI"  # BOM stripped
    assert list(frame.columns[:3]) == ["UDI", "Product ID", "Type"]
    assert frame["UDI"].dtype.kind == "i"
    assert frame["Air temperature [K]"].dtype.kind == "f"
    assert frame["Product ID"].iloc[0] == "M14860"


def test_parquet_round_trip(tmp_path: Path) -> None:
    original = pd.DataFrame(
        {"a": [1, 2, 3], "b": [1.5, None, 2.5], "c": ["x", "y", None], "d": [True, False, True]}
    )
    path = tmp_path / "data.parquet"
    original.to_parquet(path)
    frame = read_table(path)
    pd.testing.assert_frame_equal(frame, original)


def test_semicolon_csv(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, b"machine;speed;state\nA;1500;ok\nB;1600;worn\n"))
    assert list(frame.columns) == ["machine", "speed", "state"]
    assert frame["speed"].tolist() == [1500, 1600]


def test_semicolon_csv_with_decimal_comma(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, b"machine;torque\nA;42,8\nB;40,1\n"))
    assert frame["torque"].tolist() == [42.8, 40.1]


@pytest.mark.parametrize("sep", ["\t", "|"])
def test_other_delimiters(tmp_path: Path, sep: str) -> None:
    frame = read_table(write(tmp_path, f"a{sep}b\n1{sep}2\n3{sep}4\n".encode()))
    assert frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}


def test_quoted_field_with_newline_and_comma(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, b'id,note\n1,"leak at valve,\nreplaced seal"\n2,ok\n'))
    assert frame["note"].tolist() == ["leak at valve,\nreplaced seal", "ok"]


def test_crlf_and_single_column(tmp_path: Path) -> None:
    assert read_table(write(tmp_path, b"a,b\r\n1,2\r\n")).shape == (1, 2)
    assert read_table(write(tmp_path, b"x\n1\n2\n")).shape == (2, 1)


def test_header_names_kept_as_given(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, b" Speed ,Torque [Nm]\n1,2\n"))
    assert list(frame.columns) == [" Speed ", "Torque [Nm]"]


# --- rejections ---------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="empty"):
        read_table(write(tmp_path, b""))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="no data rows"):
        read_table(write(tmp_path, b"a,b,c\n"))


def test_png_is_not_csv(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMediaType, match="neither CSV nor Parquet") as caught:
        read_table(write(tmp_path, PNG, "photo.csv"), filename="photo.csv")
    assert "PNG" in caught.value.detail


def test_zip_is_not_csv(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    with pytest.raises(UnsupportedMediaType, match="neither CSV nor Parquet"):
        read_table(write(tmp_path, buffer.getvalue()))


def test_nul_bytes_are_binary(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMediaType, match="NUL byte at offset 6"):
        read_table(write(tmp_path, b"a,b\n1,\x00\n"))


def test_invalid_utf8_names_line_and_offset(tmp_path: Path) -> None:
    data = "machine,operator\nA,Smith\nB,Müller\n".encode("latin-1")
    with pytest.raises(InvalidDataset) as caught:
        read_table(write(tmp_path, data))
    offset = data.index(b"\xfc")
    assert "line 3" in caught.value.detail
    assert f"offset {offset}" in caught.value.detail
    assert caught.value.errors[0]["loc"] == ["line", 3]


def test_invalid_utf8_across_chunk_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shopfloor.data.parse as parse

    monkeypatch.setattr(parse, "CHUNK", 8)
    # Chunks of 8 bytes: the two-byte "é" at offsets 15-16 straddles a boundary and is valid.
    data = b"a,b\n1,2\n" + "abcdefg\u00e9".encode() + b",\n3,\xff\n"
    with pytest.raises(InvalidDataset) as caught:
        read_table(write(tmp_path, data))
    assert "offset 21" in caught.value.detail  # the 0xff after "3,"
    assert caught.value.errors[0]["loc"] == ["line", 4]
    # A lead byte at the end of one chunk whose continuation never comes: the lead byte is the bad one.
    data = b"a,b\n1,2\n" + b"abcdefg\xc3" + b"x,\n"
    with pytest.raises(InvalidDataset) as caught:
        read_table(write(tmp_path, data))
    assert "offset 15" in caught.value.detail
    assert caught.value.errors[0]["loc"] == ["line", 3]


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset) as caught:
        read_table(write(tmp_path, b"a,b\n1,2\n3,4\n5,6,7\n8,9\n"))
    assert "line 4" in caught.value.detail
    assert caught.value.errors == [{"loc": ["line", 4], "msg": "expected 2 fields, saw 3"}]


def test_row_with_too_few_fields(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset) as caught:
        read_table(write(tmp_path, b"a,b,c\n1,2,3\n4,5\n"))
    assert "line 3" in caught.value.detail
    assert caught.value.errors == [{"loc": ["line", 3], "msg": "expected 3 fields, saw 2"}]


def test_ragged_line_counts_physical_lines_after_a_multiline_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset) as caught:
        read_table(write(tmp_path, b'a,b\n"two\nlines",1\n2\n'))
    assert caught.value.errors[0]["loc"] == ["line", 4]


def test_unbalanced_quote(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="unbalanced double quote on line 2"):
        read_table(write(tmp_path, b'a,b\n"oops,1\n2,3\n'))


def test_duplicate_column_names(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="duplicate column name 'speed'") as caught:
        read_table(write(tmp_path, b"speed,torque,speed\n1,2,3\n"))
    assert "[1, 3]" in caught.value.detail
    assert caught.value.errors[0]["loc"] == ["line", 1, "column", 3]


def test_blank_column_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="blank column name") as caught:
        read_table(write(tmp_path, b"speed,  ,torque\n1,2,3\n"))
    assert caught.value.errors[0]["loc"] == ["line", 1, "column", 2]


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    data = path.read_bytes()
    with pytest.raises(InvalidDataset, match="truncated"):
        read_table(write(tmp_path, data[:-10], "cut.parquet"))
    with pytest.raises(InvalidDataset, match="Parquet"):
        read_table(write(tmp_path, data[:8] + b"\x00" * 20 + data[-8:], "bad.parquet"))


def test_parquet_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"a": pd.Series([], dtype="int64")}).to_parquet(path)
    with pytest.raises(InvalidDataset, match="no data rows"):
        read_table(path)


# --- properties -----------------------------------------------------------------------------------

_csvish = st.lists(
    st.sampled_from(
        [b"a", b"b", b"1", b"2.5", b",", b";", b"\t", b"|", b'"', b"\n", b"\r\n", b" ", b"\xc3\xa9"]
    )
    | st.binary(max_size=4),
    max_size=40,
).map(b"".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | _csvish | _csvish.map(lambda b: b"PAR1" + b + b"PAR1"))
def test_arbitrary_bytes_raise_only_project_errors(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data, "fuzz.bin")
    try:
        frame = read_table(path)
    except ShopfloorError:
        return
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) > 0


def test_parquet_duplicate_column_names(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"]), path)
    with pytest.raises(InvalidDataset, match="duplicate column name 'x' at positions \\[1, 2\\]"):
        read_table(path)

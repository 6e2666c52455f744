"""Whitespace-separated text (NASA C-MAPSS style), explicit formats and column names for headerless files."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.data.parse import read_table
from shopfloor.errors import InvalidDataset, InvalidInput, ShopfloorError

CMAPSS = ["unit", "cycle", "setting1", "setting2", "setting3", *(f"s{i}" for i in range(1, 22))]


def write(tmp_path: Path, data: bytes, name: str = "train.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def nasa_like(units: int = 3, cycles: int = 5) -> bytes:
    """Lines like train_FD001.txt: 26 space-separated numbers and two trailing spaces, no header."""
    lines = []
    for unit in range(1, units + 1):
        for cycle in range(1, cycles + 1):
            settings = [f"{0.001 * cycle:.4f}", "-0.0003", "100.0"]
            sensors = [f"{518.67 + 0.01 * k + cycle:.2f}" for k in range(21)]
            lines.append(" ".join([str(unit), str(cycle), *settings, *sensors]) + "  \n")
    return "".join(lines).encode()


# --- reading --------------------------------------------------------------------------------------


def test_nasa_like_file_with_column_names(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, nasa_like()), format="whitespace", columns=CMAPSS)
    assert frame.shape == (15, 26)  # trailing spaces make no extra column
    assert list(frame.columns) == CMAPSS
    assert frame["unit"].tolist() == [1] * 5 + [2] * 5 + [3] * 5
    assert frame["cycle"].iloc[:5].tolist() == [1, 2, 3, 4, 5]
    assert frame["setting3"].dtype == float and frame["s21"].iloc[0] == pytest.approx(519.87)


def test_header_line_is_used_when_its_fields_are_not_all_numbers(tmp_path: Path) -> None:
    data = b"  machine  t\tvibration  \n\nA 1 0.5  \n  A 2\t0.7\n\nB 1 -1e-3  \n"
    frame = read_table(write(tmp_path, data), format="whitespace")
    assert list(frame.columns) == ["machine", "t", "vibration"]
    assert frame["machine"].tolist() == ["A", "A", "B"]
    assert frame["vibration"].tolist() == [0.5, 0.7, -0.001]


def test_quotes_are_plain_characters(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, b'a b\n"x 1\n'), format="whitespace")
    assert frame["a"].tolist() == ['"x'] and frame["b"].tolist() == [1]


def test_headerless_csv_with_column_names(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, b"1,2.5\n2,3.5\n", "t.csv"), format="csv", columns=["n", "x"])
    assert list(frame.columns) == ["n", "x"] and frame["x"].tolist() == [2.5, 3.5]
    assert read_table(write(tmp_path, b"1,2.5\n2,3.5\n", "t.csv"), columns=["n", "x"]).shape == (2, 2)


def test_real_train_fd001(data_dir: Path) -> None:
    path = data_dir / "cmapss" / "train_FD001.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frame = read_table(path, format="whitespace", columns=CMAPSS)
    assert frame.shape == (20_631, 26)
    assert frame["unit"].nunique() == 100
    assert (frame.groupby("unit")["cycle"].diff().dropna() == 1).all()


# --- refusals -------------------------------------------------------------------------------------


def test_headerless_file_needs_column_names(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="line 1 is all numbers.*names of its 26 columns") as info:
        read_table(write(tmp_path, nasa_like()), format="whitespace")
    assert info.value.errors[0]["loc"] == ["body", "columns"]


def test_names_count_must_match_the_fields(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="columns gives 24 names but line 1.*has 26 fields") as info:
        read_table(write(tmp_path, nasa_like()), format="whitespace", columns=CMAPSS[:24])
    assert info.value.errors[0]["loc"] == ["body", "columns"]
    with pytest.raises(InvalidDataset, match="columns gives 3 names but line 1.*has 2 fields"):
        read_table(write(tmp_path, b"1,2\n", "t.csv"), columns=["a", "b", "c"])


def test_line_with_the_wrong_number_of_fields(tmp_path: Path) -> None:
    lines = nasa_like().decode().splitlines(keepends=True)
    lines[6] = lines[6].replace(" 100.0 ", " ", 1)  # one field lost on line 7
    with pytest.raises(InvalidDataset, match="line 7 has 25 fields, expected 26") as info:
        read_table(write(tmp_path, "".join(lines).encode()), format="whitespace", columns=CMAPSS)
    assert info.value.extra == {"line": 7, "expected": 26, "found": 25}
    assert info.value.errors[0]["loc"] == ["line", 7]


def test_ragged_line_after_a_header(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="line 3 has 3 fields, expected 2 like the header"):
        read_table(write(tmp_path, b"a b\n1 2\n3 4 5\n"), format="whitespace")


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="not valid UTF-8.*line 3"):
        read_table(write(tmp_path, b"a b\n1 2\n\xff 3\n"), format="whitespace")


def test_duplicate_header_names(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="duplicate column name 'a' at positions \\[1, 3\\]"):
        read_table(write(tmp_path, b"a b a\n1 2 3\n"), format="whitespace")


def test_header_without_rows_and_blank_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset, match="a header but no data rows"):
        read_table(write(tmp_path, b"a b  \n\n"), format="whitespace")
    with pytest.raises(InvalidDataset, match="only blank lines"):
        read_table(write(tmp_path, b"  \n\t\n"), format="whitespace")
    with pytest.raises(InvalidDataset, match="no data rows"):
        read_table(write(tmp_path, b"\n\n"), format="whitespace", columns=["a"])


@pytest.mark.parametrize(
    ("columns", "needle"),
    [(["a", "a"], "duplicate name"), (["a", " "], "blank name"), ([], "no names")],
)
def test_bad_column_names(tmp_path: Path, columns: list[str], needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle) as info:
        read_table(write(tmp_path, b"1 2\n"), format="whitespace", columns=columns)
    assert info.value.errors[0]["loc"] == ["body", "columns"]


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown format 'xlsx'") as info:
        read_table(write(tmp_path, b"a\n1\n"), format="xlsx")
    assert info.value.errors[0]["loc"] == ["body", "format"]


def test_format_must_match_the_file(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1.0]}).to_parquet(buffer, index=False)
    parquet = write(tmp_path, buffer.getvalue(), "t.parquet")
    with pytest.raises(InvalidDataset, match="is a Parquet file, not whitespace text"):
        read_table(parquet, format="whitespace")
    with pytest.raises(InvalidDataset, match="a Parquet file carries its own column names"):
        read_table(parquet, columns=["x"])
    assert read_table(parquet, format="parquet").shape == (1, 1)
    with pytest.raises(InvalidDataset, match="is not Parquet"):
        read_table(write(tmp_path, b"a,b\n1,2\n"), format="parquet")


_spaced = st.lists(
    st.sampled_from([b"a", b"1", b"-2.5e3", b"nan", b" ", b"  ", b"\t", b"\n", b"\r\n", b'"', b"\xc3\xa9"])
    | st.binary(max_size=3),
    max_size=40,
).map(b"".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | _spaced, named=st.booleans())
def test_arbitrary_bytes_raise_only_project_errors(tmp_path: Path, data: bytes, named: bool) -> None:
    path = write(tmp_path, data, "fuzz.txt")
    try:
        frame = read_table(path, format="whitespace", columns=["a", "b"] if named else None)
    except ShopfloorError:
        return
    assert len(frame) > 0 and (not named or list(frame.columns) == ["a", "b"])

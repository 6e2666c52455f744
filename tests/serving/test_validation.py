from __future__ import annotations

import math
import timeit
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.errors import InvalidInput, PayloadTooLarge
from shopfloor.serving.validation import MAX_REPORTED, compile_schema, validate_records

SCHEMA: list[dict[str, Any]] = [
    {"name": "Type", "type": "categorical", "categories": ["L", "M", "H"]},
    {"name": "Air temperature [K]", "type": "numeric"},
    {"name": "Rotational speed [rpm]", "type": "numeric"},
    {"name": "door_open", "type": "boolean"},
    {"name": "reported", "type": "datetime"},
    {"name": "note", "type": "text"},
]
GOOD = {
    "Type": "M",
    "Air temperature [K]": 298.1,
    "Rotational speed [rpm]": 1551,
    "door_open": False,
    "reported": "2024-05-01T08:30:00",
    "note": "squeak",
}


def errors_of(
    records: Any, schema: list[dict[str, Any]] = SCHEMA, max_records: int = 100
) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInput) as caught:
        validate_records(records, schema, max_records)
    return caught.value.errors


def test_valid_records_pass() -> None:
    validate_records([GOOD, {**GOOD, "extra": [1, 2]}, {**GOOD, "door_open": 1, "Type": 3}], SCHEMA, 10)


def test_none_means_missing_value() -> None:
    validate_records([{name: None for name in GOOD}], SCHEMA, 10)


def test_missing_field() -> None:
    record = {k: v for k, v in GOOD.items() if k != "Rotational speed [rpm]"}
    assert errors_of([GOOD, record]) == [
        {"loc": ["body", "records", 1, "Rotational speed [rpm]"], "msg": "field required"}
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("Air temperature [K]", "abc", "expected a number, got 'abc' (str)"),
        ("Air temperature [K]", True, "expected a number, got True (bool)"),
        ("Air temperature [K]", math.nan, "expected a finite number, got nan"),
        ("Air temperature [K]", math.inf, "expected a finite number, got inf"),
        ("Air temperature [K]", [1.0], "expected a number, got [1.0] (list)"),
        ("Type", {"a": 1}, "expected a category (string or number), got {'a': 1} (dict)"),
        ("door_open", 2, "expected true/false or 0/1, got 2 (int)"),
        ("door_open", "yes", "expected true/false or 0/1, got 'yes' (str)"),
        ("reported", 1714552200, "expected a date/time string"),
        ("note", 5, "expected a string, got 5 (int)"),
    ],
)
def test_wrong_type(field: str, value: Any, message: str) -> None:
    errors = errors_of([{**GOOD, field: value}])
    assert len(errors) == 1
    assert errors[0]["loc"] == ["body", "records", 0, field]
    assert errors[0]["msg"].startswith(message)


def test_boolean_labels_from_schema_are_accepted() -> None:
    schema = [{"name": "door", "type": "boolean", "categories": ["no", "yes"]}]
    validate_records([{"door": "yes"}, {"door": True}, {"door": 0}], schema, 10)
    assert "accepted labels" in errors_of([{"door": "maybe"}], schema)[0]["msg"]


def test_record_not_an_object() -> None:
    assert errors_of([GOOD, [1, 2]])[0]["loc"] == ["body", "records", 1]


@pytest.mark.parametrize("records", [[], {"Type": "M"}, "text", None])
def test_empty_or_not_a_list(records: Any) -> None:
    assert errors_of(records)[0]["loc"] == ["body", "records"]


def test_too_many_records() -> None:
    with pytest.raises(PayloadTooLarge, match="SHOPFLOOR_MAX_RECORDS_PER_REQUEST"):
        validate_records([GOOD] * 11, SCHEMA, 10)


def test_errors_are_capped_and_counted() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_records([{}] * 20, SCHEMA, 100)
    assert len(caught.value.errors) == MAX_REPORTED
    assert caught.value.extra["total_errors"] == 20 * len(SCHEMA)
    assert f"{20 * len(SCHEMA) - MAX_REPORTED} more" in caught.value.detail
    assert "20 of 20 record(s)" in caught.value.detail


def test_unknown_schema_type_accepts_anything() -> None:
    validate_records([{"x": object()}], [{"name": "x", "type": "hologram"}], 1)


def test_image_inputs_are_bytes_or_base64_text() -> None:
    schema = [{"name": "image", "type": "image"}]
    validate_records([{"image": b"\x89PNG"}, {"image": "iVBORw0KGgo="}], schema, 2)
    for bad in ("", "  ", 3, None, b""):
        with pytest.raises(InvalidInput) as caught:
            validate_records([{"image": bad}], schema, 1)
        assert caught.value.errors[0]["loc"] == ["body", "records", 0, "image"]


def test_compiled_validator_is_fast() -> None:
    validator = compile_schema(SCHEMA)
    records = [GOOD]
    n = 20_000
    seconds = min(timeit.repeat(lambda: validator(records, 1000), number=n, repeat=3)) / n
    assert seconds < 20e-6  # measured ~1 µs; generous for slow CI machines


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
records_strategy = st.lists(
    st.dictionaries(st.sampled_from([*GOOD, "other"]), json_values, max_size=8) | json_values, max_size=8
)


@settings(max_examples=200, deadline=None)
@given(records=records_strategy | json_values)
def test_arbitrary_json_raises_only_input_errors(records: Any) -> None:
    try:
        validate_records(records, SCHEMA, 5)
    except (InvalidInput, PayloadTooLarge) as exc:
        assert exc.errors
        assert len(exc.errors) <= MAX_REPORTED

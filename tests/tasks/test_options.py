"""Each family's option model against its estimator, and the checking of a request's options."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from shopfloor.errors import InvalidInput
from shopfloor.tasks.catalog import capabilities, estimator_class, option_model, tasks, trainable
from shopfloor.tasks.options import validate_options

#: set by the request's own fields (or by the task), never by ``options``
RESERVED = {"metric", "seed", "time_budget_s", "column_types", "kind"}
#: the series layout of the sensor families, fields of the request too
LAYOUT = {"asset_column", "time_column", "sensors"}

TRAINABLE = [t for t in tasks() if trainable(t)]


def _model(task: str) -> type[BaseModel]:
    model = option_model(task)
    assert model is not None, task
    return model


def _settable(task: str) -> dict[str, Any]:
    """The estimator's keyword -> default a request may set in ``options``."""
    parameters = inspect.signature(estimator_class(task).__init__).parameters
    fixed = RESERVED | (LAYOUT if capabilities(task).inputs == "series" else set())
    return {n: p.default for n, p in parameters.items() if n != "self" and n not in fixed}


def test_every_trainable_task_has_an_option_model_and_imported_ones_none() -> None:
    assert {t: option_model(t) is not None for t in tasks()} == {t: trainable(t) for t in tasks()}


@pytest.mark.parametrize("task", TRAINABLE)
def test_fields_are_the_estimators_keywords_with_its_defaults(task: str) -> None:
    model, settable = _model(task), _settable(task)
    assert set(model.model_fields) == set(settable), task
    for name, field in model.model_fields.items():
        assert field.default == settable[name], (task, name)
        assert field.description and len(field.description) > 20, (task, name)
        assert field.title and field.title != name.replace("_", " ").title(), (task, name)  # a label


@pytest.mark.parametrize("task", TRAINABLE)
def test_every_model_refuses_unknown_options(task: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_options(_model(task), {"colour": "red"}, task)
    assert caught.value.errors == [{"loc": ["body", "options"], "msg": "unexpected option(s): 'colour'"}]
    assert task in caught.value.detail and "'colour'" in caught.value.detail


def test_choices_and_bounds_are_the_estimators() -> None:
    from shopfloor.hub.catalog import ALL_VARIANTS, BUILTIN_NAME
    from shopfloor.tasks.anomaly.models import FAMILIES
    from shopfloor.tasks.anomaly.options import Candidate as AnomalyCandidate
    from shopfloor.tasks.forecast.candidates import ORDER
    from shopfloor.tasks.forecast.options import Candidate as ForecastCandidate
    from shopfloor.tasks.image_anomaly.patches import STRIDE
    from shopfloor.tasks.rul.estimator import CANDIDATES, MIN_POINTS
    from shopfloor.tasks.rul.options import Candidate as RulCandidate
    from shopfloor.tasks.text.estimator import ALL_CANDIDATES
    from shopfloor.tasks.text.options import Candidate as TextCandidate
    from shopfloor.tasks.text.options import Variant

    assert typing.get_args(RulCandidate) == CANDIDATES
    assert typing.get_args(AnomalyCandidate) == FAMILIES
    assert typing.get_args(TextCandidate) == ALL_CANDIDATES
    assert typing.get_args(Variant) == ALL_VARIANTS
    assert typing.get_args(ForecastCandidate) == ORDER
    assert _model("text_classification").model_fields["encoder"].default == BUILTIN_NAME
    schema = _model("rul").model_json_schema()["properties"]
    assert schema["window"]["minimum"] == MIN_POINTS
    assert _model("image_anomaly").model_json_schema()["properties"]["size"]["multipleOf"] == STRIDE


# values the model refuses, each where the estimator's own check_options refuses it as well
REFUSED = [
    ("rul", {"cap": 0}),
    ("rul", {"cap": "125"}),
    ("rul", {"window": 4}),
    ("rul", {"window": 30.0}),
    ("rul", {"candidates": ["lstm"]}),
    ("rul", {"candidates": []}),
    ("rul", {"max_epochs": 0}),
    ("rul", {"age_feature": "yes"}),
    ("anomaly", {"false_alarm_rate": 0.5}),
    ("anomaly", {"false_alarm_rate": True}),
    ("anomaly", {"window": 0}),
    ("anomaly", {"min_event_points": 1.5}),
    ("anomaly", {"candidates": ["forest"]}),
    ("text_classification", {"candidates": ["bert"]}),
    ("text_classification", {"encoder_variant": "fp16"}),
    ("image_classification", {"size": 100}),
    ("image_classification", {"batch_size": 1}),
    ("image_classification", {"stability_seeds": 11}),
    ("image_anomaly", {"false_alarm_rate": 0.6}),
    ("image_anomaly", {"size": 50}),
    ("image_anomaly", {"memory_size": 99}),
    ("forecast", {"horizon": 0}),
    ("forecast", {"n_windows": 1}),
    ("forecast", {"season_length": 367}),
    ("forecast", {"per_series": 1}),
    ("forecast", {"candidates": ["prophet"]}),
    ("forecast", {"covariates": "promo"}),
]


@pytest.mark.parametrize(("task", "options"), REFUSED)
def test_refused_values_are_located_at_their_option(task: str, options: dict[str, Any]) -> None:
    name = next(iter(options))
    with pytest.raises(InvalidInput) as caught:
        validate_options(_model(task), options, task)
    assert caught.value.errors is not None and caught.value.errors[0]["loc"] == ["body", "options", name]
    assert caught.value.detail.startswith(f"option {name!r}: ")
    layout = {"sensors": ["s"]} if capabilities(task).inputs == "series" else {}
    with pytest.raises(InvalidInput) as also:  # the model is never looser than the estimator
        estimator_class(task)(**layout, **options).check_options()
    assert also.value.errors is not None and also.value.errors[0]["loc"] == ["body", "options", name]


def test_accepted_options_come_back_as_given() -> None:
    options = {"cap": 130, "candidates": ["lightgbm", "cnn"], "max_epochs": None}
    checked = validate_options(_model("rul"), options, "rul")
    assert checked == options and checked is not options and isinstance(checked["cap"], int)
    assert validate_options(_model("tabular_regression"), {}, "tabular_regression") == {}


def test_one_error_per_option_saying_which_item_is_wrong() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_options(_model("image_anomaly"), {"good_label": [1], "size": 50}, "image_anomaly")
    errors = caught.value.errors or []
    assert [e["loc"][-1] for e in errors] == ["good_label", "size"]
    assert "string" in errors[0]["msg"] and "integer" in errors[0]["msg"]
    with pytest.raises(InvalidInput) as caught:
        validate_options(_model("forecast"), {"candidates": ["theta", "prophet"]}, "forecast")
    assert "(item 1)" in caught.value.detail and "auto_ets" in caught.value.detail


def test_option_models_load_without_numeric_libraries() -> None:
    # the API documents every family's options at start: their modules must stay light
    code = (
        "import sys; from shopfloor.tasks.catalog import option_model, tasks; "
        "[option_model(t) for t in tasks()]; "
        "print(sorted(m for m in ('numpy', 'pandas', 'torch', 'lightgbm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "[]", out.stdout + out.stderr

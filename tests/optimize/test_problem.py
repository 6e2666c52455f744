"""Checking optimisation requests against a model's inputs, derived features, constraints and
the feasibility check (no model needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shopfloor.errors import InvalidInput
from shopfloor.optimize.feasibility import check_feasible
from shopfloor.optimize.problem import Problem, parse

SCHEMA = [
    {"name": "speed", "type": "numeric"},
    {"name": "torque", "type": "numeric"},
    {"name": "wear", "type": "numeric"},
    {"name": "Type", "type": "categorical", "categories": ["H", "L", "M"]},
]
CLASSES = ["0", "1"]
POWER = {"power_w": {"product": ["torque", "speed"], "scale": 0.10471976}}


def _request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "controls": {"speed": {"min": 1200, "max": 2800}, "torque": {"min": 10, "max": 70}},
        "fixed": {"wear": 100, "Type": "M"},
        "derived": POWER,
        "constraints": [{"terms": {"power_w": 1}, "op": ">=", "value": 3500}],
    }
    request.update(changes)
    return request


def _parse(request: dict[str, Any], classes: list[str] | None = CLASSES) -> Problem:
    return parse(request, SCHEMA, classes, classes[-1] if classes else None)


def _refused(request: dict[str, Any], classes: list[str] | None = CLASSES) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInput) as err:
        _parse(request, classes)
    return err.value.errors


def test_a_valid_request_takes_defaults() -> None:
    p = _parse(_request())
    assert [c.name for c in p.controls] == ["speed", "torque"]
    assert (p.objective, p.output, p.trials, p.sampler, p.seed, p.tolerance) == (
        "minimize",
        "1",
        200,
        "tpe",
        0,
        0.01,
    )
    assert p.record({"speed": 1500.0, "torque": 40.0}) == {
        "wear": 100,
        "Type": "M",
        "speed": 1500.0,
        "torque": 40.0,
    }


def test_derived_features_and_violations_are_evaluated_column_wise() -> None:
    p = _parse(
        _request(
            derived={**POWER, "load": {"sum": {"torque": 2, "wear": -1}, "scale": 0.5}},
            constraints=[
                {"terms": {"power_w": 1}, "op": ">=", "value": 3500},
                {"terms": {"load": 1}, "op": "<=", "value": 0},
            ],
        )
    )
    settings = {"speed": np.array([1200.0, 2800.0]), "torque": np.array([10.0, 70.0])}
    cols = p.columns(settings)
    assert np.allclose(cols["power_w"], [1256.63712, 20525.07296])
    assert np.allclose(cols["load"], [0.5 * (20 - 100), 0.5 * (140 - 100)])
    viol = p.violations(settings)
    assert viol.shape == (2, 2)
    assert viol[0, 0] > 0 and viol[0, 1] == 0  # too little power at low speed and torque
    assert viol[1, 0] == 0 and viol[1, 1] == pytest.approx(20 / 1)  # load 20 above 0, scale 1


def test_min_above_max_is_refused_at_its_place() -> None:
    errors = _refused(
        _request(controls={"speed": {"min": 2800, "max": 1200}, "torque": {"min": 10, "max": 70}})
    )
    assert errors == [{"loc": ["body", "controls", "speed", "min"], "msg": "min (2800) is above max (1200)"}]


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        (
            {
                "controls": {
                    "speed": {"min": 1, "max": 2},
                    "torque": {"min": 1, "max": 2},
                    "rpm": {"min": 1, "max": 2},
                }
            },
            ["body", "controls", "rpm"],
        ),
        ({"fixed": {"wear": 100, "Type": "M", "colour": "red"}}, ["body", "fixed", "colour"]),
        ({"fixed": {"wear": 100, "Type": "M", "speed": 1500}}, ["body", "fixed", "speed"]),
        ({"fixed": {"Type": "M"}}, ["body", "fixed", "wear"]),
        (
            {"derived": {"power_w": {"product": ["torque", "rpm"]}}},
            ["body", "derived", "power_w", "product", "rpm"],
        ),
        ({"derived": {"x": {"product": ["torque", "Type"]}}}, ["body", "derived", "x", "product", "Type"]),
        (
            {"constraints": [{"terms": {"power": 1}, "op": ">=", "value": 1}]},
            ["body", "constraints", 0, "terms", "power"],
        ),
        (
            {"constraints": [{"terms": {"power_w": 1}, "op": "=>", "value": 1}]},
            ["body", "constraints", 0, "op"],
        ),
        ({"trials": 0}, ["body", "trials"]),
        ({"trials": 5001}, ["body", "trials"]),
        ({"sampler": "random"}, ["body", "sampler"]),
        ({"objective": "lowest"}, ["body", "objective"]),
        ({"output": "2"}, ["body", "output"]),
        ({"tolerance": 0.9}, ["body", "tolerance"]),
        ({"current": {"speed": 1500}}, ["body", "current", "torque"]),
        ({"current": {"speed": 1500, "torque": 40, "wear": 1}}, ["body", "current", "wear"]),
        (
            {"controls": {"speed": {"min": 1, "max": 2}, "Type": {"min": 0, "max": 1}}},
            ["body", "controls", "Type"],
        ),
        (
            {"controls": {"speed": {"min": 1, "max": 2}, "Type": {"values": ["M", "XL"]}}},
            ["body", "controls", "Type", "values"],
        ),
    ],
)
def test_bad_requests_name_the_place(changes: dict[str, Any], loc: list[Any]) -> None:
    errors = _refused(_request(**changes))
    assert loc in [e["loc"] for e in errors], errors


def test_every_problem_is_listed_and_the_detail_names_the_first() -> None:
    with pytest.raises(InvalidInput) as err:
        _parse(_request(fixed={"Type": "M"}, sampler="random"))
    assert "wear" in err.value.detail and "2 problems" in err.value.detail
    assert len(err.value.errors) == 2


def test_regression_has_one_output() -> None:
    assert _parse(_request(), classes=None).output is None
    assert _refused(_request(output="1"), classes=None)[0]["loc"] == ["body", "output"]


def test_categorical_control_with_values() -> None:
    p = _parse(
        _request(
            controls={
                "speed": {"min": 1200, "max": 2800},
                "torque": {"min": 10, "max": 70},
                "Type": {"values": ["L", "M"]},
            },
            fixed={"wear": 100},
        )
    )
    (choice,) = [c for c in p.controls if not c.continuous]
    assert choice.values == ("L", "M") and choice.span == 0.0


def test_equality_gets_a_default_band() -> None:
    p = _parse(_request(constraints=[{"terms": {"power_w": 1}, "op": "==", "value": 5000}]))
    assert p.constraints[0].tol == pytest.approx(50.0)
    assert p.violations({"speed": 1500.0, "torque": 5000 / (1500 * 0.10471976)})[0, 0] == 0


def test_linear_constraints_go_to_a_linear_programme() -> None:
    ok = check_feasible(
        _parse(
            _request(
                derived={}, constraints=[{"terms": {"speed": 1, "torque": 10}, "op": "<=", "value": 2000}]
            )
        )
    )
    assert ok.feasible and ok.method.startswith("linear programme") and ok.seeds
    bad = check_feasible(
        _parse(
            _request(
                derived={}, constraints=[{"terms": {"speed": 1, "torque": 10}, "op": "<=", "value": 1000}]
            )
        )
    )
    assert not bad.feasible
    assert "constraint 0" in bad.reason and "at least 1300" in bad.reason
    assert bad.least_violation == {
        "settings": {"speed": 1200.0, "torque": 10.0},
        "violations": [{"index": 0, "constraint": "speed + 10*torque <= 1000", "lhs": 1300.0, "by": 300.0}],
    }


def test_a_product_with_a_fixed_input_is_still_linear() -> None:
    p = _parse(
        _request(
            derived={"wear_torque": {"product": ["torque", "wear"]}},
            constraints=[{"terms": {"wear_torque": 1}, "op": "<=", "value": 500}],
        )
    )
    result = check_feasible(p)
    assert not result.feasible and result.method.startswith("linear programme")
    assert "at least 1000" in result.reason  # 10 Nm x 100 min at the lowest torque


def test_constraints_that_conflict_only_together() -> None:
    p = _parse(
        _request(
            derived={},
            constraints=[
                {"terms": {"speed": 1}, "op": ">=", "value": 2500},
                {"terms": {"speed": 1, "torque": 10}, "op": "<=", "value": 2400},
            ],
        )
    )
    result = check_feasible(p)
    assert not result.feasible and "together" in result.reason
    assert result.least_violation is not None and result.least_violation["violations"]


def test_nonlinear_constraints_are_sampled_and_the_least_violation_polished() -> None:
    p = _parse(_request(constraints=[{"terms": {"power_w": 1}, "op": ">=", "value": 30000}]))
    result = check_feasible(p)
    assert not result.feasible and result.method.startswith("32768 quasi-random points")
    assert "power_w >= 30000" in result.reason and "reaches at most" in result.reason
    least = result.least_violation
    assert least is not None
    assert least["settings"]["speed"] > 2790 and least["settings"]["torque"] > 69.5
    (missed,) = least["violations"]
    assert missed["by"] == pytest.approx(30000 - 20525.07, rel=1e-3)


def test_feasible_nonlinear_problem_gives_feasible_seeds() -> None:
    p = _parse(_request())
    result = check_feasible(p)
    assert result.feasible and 1 <= len(result.seeds) <= 8
    for seed in result.seeds:
        assert p.violations(seed)[:, 0].max() == 0

"""Request and response shapes of ``POST /v1/models/{name}/optimize``.

The shapes are checked here; whether the names fit the model's inputs is checked by
:func:`shopfloor.optimize.parse`, which reports each problem at its place in the body.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.optimize.problem import DEFAULT_TRIALS, MAX_TRIALS

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class ControlSpec(BaseModel):
    model_config = _STRICT

    min: float | None = Field(None, description="Lowest setting of a numeric control")
    max: float | None = Field(None, description="Highest setting of a numeric control")
    values: list[Any] | None = Field(
        None, description="The settings to choose from (categorical or boolean inputs, or discrete numbers)"
    )


class DerivedSpec(BaseModel):
    model_config = _STRICT

    product: list[str] | None = Field(None, description="Features multiplied together")
    sum: dict[str, float] | list[str] | None = Field(
        None, description="Feature -> coefficient (or a list of features, each with coefficient 1)"
    )
    scale: float = Field(1.0, description="Constant factor of the product or sum")


class ConstraintSpec(BaseModel):
    model_config = _STRICT

    terms: dict[str, float] = Field(
        description="Feature (numeric input or derived feature) -> coefficient; the left side is their sum"
    )
    op: Literal["<=", ">=", "=="]
    value: float
    tol: float | None = Field(None, ge=0, description="'==' holds within this; default 1% of max(|value|, 1)")


class OptimizeRequest(BaseModel):
    model_config = _STRICT

    controls: dict[str, ControlSpec] = Field(
        description="The inputs to set, with their bounds (or values)",
        examples=[
            {"Rotational speed [rpm]": {"min": 1200, "max": 2800}, "Torque [Nm]": {"min": 10, "max": 70}}
        ],
    )
    fixed: dict[str, Any] = Field(default_factory=dict, description="A value for every other input")
    derived: dict[str, DerivedSpec] = Field(
        default_factory=dict,
        description="Features computed from the inputs, for constraints",
        examples=[{"power_w": {"product": ["Torque [Nm]", "Rotational speed [rpm]"], "scale": 0.10471976}}],
    )
    constraints: list[ConstraintSpec] = Field(default_factory=list)
    objective: Literal["minimize", "maximize"] = "minimize"
    output: str | int | None = Field(
        None,
        description="Classification: the class whose probability is optimised (default: the minority class)",
    )
    current: dict[str, Any] | None = Field(
        None, description="The controls' present settings, to compare with"
    )
    trials: int = Field(
        DEFAULT_TRIALS, ge=1, le=MAX_TRIALS, description="Search budget; above 300 the answer comes as a job"
    )
    sampler: Literal["tpe", "cmaes"] = "tpe"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    tolerance: float | None = Field(
        None, gt=0, le=0.5, description="Jitter for the uncertainty, a fraction of each range (default 0.01)"
    )


class Best(BaseModel):
    settings: dict[str, Any]
    record: dict[str, Any] = Field(description="The full input record the prediction was made on")
    predicted: float
    derived: dict[str, float] = Field(default_factory=dict)


class Uncertainty(BaseModel):
    tolerance: float
    points: int
    feasible_only: bool
    mean: float
    std: float
    p05: float
    p95: float
    min: float
    max: float


class Current(BaseModel):
    settings: dict[str, Any]
    record: dict[str, Any]
    predicted: float
    feasible: bool
    violated_constraints: list[int]
    improvement: float = Field(description="How much better the optimum is, in the objective's direction")
    improvement_pct: float | None = None


class RunnerUp(BaseModel):
    settings: dict[str, Any]
    predicted: float
    trial: int


class CurvePoint(BaseModel):
    at: Any
    predicted: float
    feasible: bool


class Point(BaseModel):
    at: float
    predicted: float


class Sensitivity(BaseModel):
    curve: list[CurvePoint]
    low: Point | None = None
    high: Point | None = None
    slope: float | None = Field(None, description="Change of the outcome per unit of the control")


class ConstraintValue(BaseModel):
    index: int
    constraint: str
    op: str
    value: float
    tol: float | None = None
    lhs: float
    slack: float = Field(description="Distance inside the constraint; negative: violated")
    satisfied: bool
    active: bool


class OptimizeResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    status: Literal["optimal", "infeasible"]
    model: str
    version: int
    task: str
    objective: str
    output: dict[str, Any]
    sampler: str
    seed: int
    best: Best | None = None
    uncertainty: Uncertainty | None = None
    current: Current | None = None
    runner_ups: list[RunnerUp] = Field(default_factory=list)
    sensitivity: dict[str, Sensitivity] = Field(default_factory=dict)
    constraints: list[ConstraintValue] = Field(default_factory=list)
    feasibility: str | None = Field(None, description="How feasibility was established before the search")
    reason: str | None = Field(None, description="Infeasible: which constraint cannot be met")
    least_violation: dict[str, Any] | None = Field(
        None, description="Infeasible: the settings closest to feasible and each constraint they miss"
    )
    checked_by: str | None = None
    stopped: str | None = Field(
        None, description="Why the search ran fewer trials than asked (the synchronous time bound)"
    )
    trials: int
    feasible_trials: int
    seconds: float

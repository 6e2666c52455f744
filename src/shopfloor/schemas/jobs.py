"""Job resource shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from shopfloor.tasks.catalog import option_model, tasks, trainable


class OptionsOfEachTask:
    """Documents a request's ``options`` as the option model of each trainable task.

    Only the schema: the service validates ``options`` against its task's model, once the task is
    known (a union here would refuse with locations that do not say which task's options were
    meant). The schema is ``anyOf`` the models (each in ``components.schemas``), a description
    saying which task takes which, and ``x-options-by-task``: task -> the model's ``$ref``.
    """

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        by_task = {task: option_model(task) for task in tasks() if trainable(task)}
        models = list(dict.fromkeys(m for m in by_task.values() if m is not None))
        union = handler(core_schema.union_schema([m.__pydantic_core_schema__ for m in models]))
        refs = {m: part["$ref"] for m, part in zip(models, union["anyOf"], strict=True)}
        lines = [
            f"{task}: {m.__name__}" + ("" if m.model_fields else " (no options)")
            for task, m in by_task.items()
            if m is not None
        ]
        return {
            **union,
            "description": "Hyper-parameters of the task family, e.g. {\"cap\": 125} for rul or "
            "{\"false_alarm_rate\": 0.01} for anomaly. The schema that applies depends on 'task': "
            + "; ".join(lines) + ".",
            "x-options-by-task": {task: refs[m] for task, m in by_task.items() if m is not None},
        }


class TrainJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    type: Literal["train"] = "train"
    task: str = Field(description="The task family: " + ", ".join(t for t in tasks() if trainable(t)))
    dataset_id: str
    target: str | None = Field(
        None, description="The column to predict; rul derives its target and anomaly needs none"
    )
    exclude: list[str] = Field(default_factory=list)
    asset_column: str | None = Field(
        None, description="rul, anomaly: the asset id column (default: the one named at upload)"
    )
    time_column: str | None = Field(
        None, description="rul, anomaly: the time or cycle column (default: the one named at upload)"
    )
    # described by OptionsOfEachTask, from the option model of each task
    options: Annotated[dict[str, Any], OptionsOfEachTask()] = Field(default_factory=dict)
    model_name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    metric: str | None = None
    time_budget_s: float | None = Field(None, gt=0, le=86400)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class JobPublic(BaseModel):
    id: str
    type: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float
    stage: str | None = None
    message: str | None = None
    error: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    request_id: str | None = Field(
        None, description="The X-Request-ID of the request that queued the job (in its log lines too)."
    )
    attempts: int = Field(
        0, description="How many times a job runner has started the job (a job handed back on shutdown "
        "is started again)."
    )


class JobList(BaseModel):
    items: list[JobPublic]

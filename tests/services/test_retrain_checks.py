"""A retraining request's checks: the champion's configuration, and new data read as it was read."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from shopfloor.errors import InvalidInput, NotFound
from shopfloor.registry.entities import Dataset, Job, ModelVersion
from shopfloor.services.retrain_checks import champion_config, check_fits, needed_columns, reference_types

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SCHEMA = [
    {"name": "torque", "type": "numeric"},
    {"name": "grade", "type": "categorical", "categories": ["L"]},
]


def _champion(**changes: Any) -> ModelVersion:
    fields: dict[str, Any] = {
        "tenant": "t", "model": "mill", "version": 2, "task": "tabular_classification", "status": "ready",
        "report": {"target": "failed", "classes": [0, 1], "budget": {"seconds": 12.0}},
        "input_schema": SCHEMA, "files": {}, "artifact": "a", "lineage": {"dataset_id": "ds_train"},
        "job_id": "job_train", "created_at": NOW,
    }  # fmt: skip
    return ModelVersion(**{**fields, **changes})


def _column(name: str, kind: str, top: list[Any] | None = None) -> dict[str, Any]:
    stats = {"distinct": len(top), "top": [{"value": v, "count": 5} for v in top]} if top else {}
    return {"name": name, "type": kind, "missing": 0, "stats": stats}


def _dataset(id: str, *columns: dict[str, Any]) -> Dataset:
    return Dataset(
        id=id, tenant="t", name=id.removeprefix("ds_"), version=1, rows=10, sha256=id * 2, size_bytes=1,
        format="csv", columns=list(columns), artifact=f"t/datasets/{id}", created_at=NOW,
    )  # fmt: skip


TRAINING = _dataset(
    "ds_train",
    _column("torque", "numeric"),
    _column("grade", "categorical", ["L", "M"]),
    _column("failed", "boolean", [0, 1]),
    _column("serial", "id"),
)


class Store:
    def __init__(self, datasets: list[Dataset], params: dict[str, Any] | None = None) -> None:
        self.datasets, self.params = {d.id: d for d in datasets}, params

    def get_dataset(self, tenant: str, dataset_id: str) -> Dataset:
        if dataset_id not in self.datasets:
            raise NotFound(f"dataset {dataset_id!r} not found")
        return self.datasets[dataset_id]

    def get_job(self, tenant: str | None, job_id: str) -> Job:
        if self.params is None:
            raise NotFound(f"job {job_id!r} not found")
        return SimpleNamespace(params=self.params, type="train")  # type: ignore[return-value]


def _platform(store: Store) -> Any:
    return SimpleNamespace(store=store, settings=SimpleNamespace(default_time_budget_s=300.0))


def test_the_configuration_comes_from_the_training_job_and_its_report() -> None:
    params = {
        "task": "tabular_classification", "target": "failed", "exclude": ["serial"], "seed": 3,
        "model_name": "mill", "dataset_id": "ds_train", "time_budget_s": None, "warnings": [],
    }  # fmt: skip
    config = champion_config(_platform(Store([], params)), _champion())
    assert config == {
        "task": "tabular_classification", "target": "failed", "exclude": ["serial"], "options": {},
        "metric": None, "seed": 3, "time_budget_s": 12.0, "asset_column": None, "time_column": None,
        "sensors": None,
    }  # fmt: skip
    again = {**config, "seed": 5}
    assert champion_config(_platform(Store([])), _champion(lineage={"config": again})) == again  # retrained


def test_a_version_without_a_training_configuration_is_refused() -> None:
    with pytest.raises(InvalidInput, match="was imported, not trained here"):
        champion_config(_platform(Store([])), _champion(job_id=None))
    with pytest.raises(InvalidInput, match="the training job of version 2 of 'mill' is gone"):
        champion_config(_platform(Store([])), _champion())


def test_the_columns_and_types_the_champion_reads() -> None:
    champion = _champion()
    config = {"task": "tabular_classification", "target": "failed", "options": {"text_column": "note"}}
    columns = needed_columns(champion, config)
    assert columns == ["torque", "grade", "failed", "note"]
    assert reference_types(_platform(Store([TRAINING])), champion, columns) == {
        "torque": "numeric", "grade": "categorical", "failed": "boolean"
    }  # fmt: skip
    # the training dataset is gone: the model's own input schema still says what it reads
    gone = reference_types(_platform(Store([])), champion, columns)
    assert gone == {"torque": "numeric", "grade": "categorical"}
    stored = {"torque": "numeric", "failed": "categorical"}
    retrained = _champion(lineage={"column_types": stored})
    assert reference_types(_platform(Store([])), retrained, columns) == stored


REFERENCE = {"torque": "numeric", "grade": "categorical", "failed": "boolean"}
COLUMNS = ["torque", "grade", "failed"]


def test_new_data_read_as_before_is_accepted() -> None:
    fits = _dataset(
        "ds_new",
        _column("torque", "boolean", [0, 1]),  # a small file where torque happens to be 0 or 1
        _column("grade", "id"),
        _column("failed", "boolean", ["1", "0"]),
        _column("extra", "numeric"),  # not read: no matter
    )
    check_fits(_champion(), REFERENCE, COLUMNS, [TRAINING, fits])


def test_each_column_that_does_not_fit_is_named_with_its_dataset() -> None:
    lacking = _dataset("ds_lacking", _column("grade", "categorical"), _column("failed", "boolean", [0, 1]))
    odd = _dataset(
        "ds_odd",
        _column("torque", "boolean", ["yes", "no"]),
        _column("grade", "numeric"),
        _column("failed", "boolean", [0, 1]),
    )
    with pytest.raises(InvalidInput) as refused:
        check_fits(_champion(), REFERENCE, COLUMNS, [TRAINING, lacking, odd])
    detail = refused.value.detail
    assert "dataset 'lacking' (ds_lacking): it lacks 'torque'" in detail
    assert "dataset 'odd' (ds_odd): 'torque' is boolean there, the model read it as numeric; " in detail
    assert "'grade' is numeric there, the model read it as categorical" in detail
    assert [e["loc"] for e in refused.value.errors] == [
        ["body", "dataset_ids", 1, "columns", "torque"],
        ["body", "dataset_ids", 2, "columns", "torque"],
        ["body", "dataset_ids", 2, "columns", "grade"],
    ]


def test_a_target_of_other_labels_is_refused() -> None:
    words = _dataset(
        "ds_words", _column("torque", "numeric"), _column("grade", "categorical"),
        _column("failed", "boolean", ["yes", "no"]),
    )  # fmt: skip
    with pytest.raises(InvalidInput, match=r"'failed' holds 'yes', 'no', none of the model's classes"):
        check_fits(_champion(), REFERENCE, COLUMNS, [words])
    new_class = _dataset(
        "ds_more", _column("torque", "numeric"), _column("grade", "categorical"),
        _column("failed", "categorical", [0, 1, "jam"]),
    )  # fmt: skip
    check_fits(_champion(), {**REFERENCE, "failed": "categorical"}, COLUMNS, [new_class])  # a new class: fine

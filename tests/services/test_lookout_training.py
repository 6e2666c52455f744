"""Lookout models as training jobs: a C-MAPSS model trained, evaluated against labels in the
tenant's bucket and described; requests refused whole, with the field named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lookout_setup import PLANT, Plant, make_plant

import lookout_data as ld
from s3server import MotoServer
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.services import lookout_training as training
from shopfloor.services.lookout_training import ModelSpec


def _no_groups(platform: Any, tenant: str, name: str) -> list:
    raise NotFound(f"label group {name!r} not found")


@pytest.fixture(scope="module")
def plant(
    tmp_path_factory: pytest.TempPathFactory, s3_server: MotoServer, data_dir: Path
) -> Iterator[Plant]:
    tmp = tmp_path_factory.mktemp("lookout-models")
    bucket = "plant-lookout-models"
    made = make_plant(tmp, s3_server, bucket, data_dir)
    labels = ld.labels_csv(ld.label_ranges(made.table))
    made.s3.put_object(Bucket=bucket, Key="labels/pump-1.csv", Body=labels)
    yield made
    made.platform.close()


def _spec(plant: Plant, **more: Any) -> ModelSpec:
    end = plant.boundary()
    fields: dict[str, Any] = {
        "name": "pump-1-model",
        "dataset_name": "pump-1",
        "client_token": "t1",
        "labels_s3": (plant.bucket, "labels/"),
        "training": (ld.START, end),
        "evaluation": (end, plant.table[ld.TIME].iloc[-1].to_pydatetime()),
        "sampling": "PT1M",
        "off": "operating\\setting3 < 50",
    }
    return ModelSpec(**{**fields, **more})


def test_a_model_trains_evaluates_and_is_described(plant: Plant) -> None:
    platform = plant.platform
    made = training.create_model(platform, PLANT, _spec(plant), plant.finder, _no_groups)
    assert training.describe(platform, PLANT.tenant, made.name).status == "IN_PROGRESS"
    # the same client token again answers the same model; another token is a conflict
    assert training.create_model(platform, PLANT, _spec(plant), plant.finder, _no_groups) == made
    with pytest.raises(Conflict, match="already exists"):
        training.create_model(platform, PLANT, _spec(plant, client_token="t2"), plant.finder, _no_groups)
    plant.run_jobs()
    state = training.describe(platform, PLANT.tenant, made.name)
    assert state.status == "SUCCESS", state.job.error
    metrics = state.metrics
    assert metrics is not None
    assert metrics["labeled_ranges_count"] == 3  # the three evaluation engines' ends
    assert metrics["predicted_ranges_count"] >= 1 and metrics["detected_labeled_ranges_count"] >= 2
    assert metrics["quality"] == state.quality
    assert state.quality == "QUALITY_THRESHOLD_MET"
    assert metrics["training_rows"] < len(plant.table)  # labelled ends and the evaluation left out
    first = metrics["predicted_ranges"][0]
    assert {d["name"] for d in first["diagnostics"]} <= {c for c in plant.table.columns if "\\" in c}
    assert abs(sum(d["value"] for d in first["diagnostics"]) - 1.0) < 1e-3
    json.dumps(metrics)  # DescribeModel sends it as a JSON string
    # an ordinary registered version of the Shopfloor model of the same name, audited as a training
    version = state.version
    assert version is not None and version.task == "anomaly" and version.model == "pump-1-model"
    assert "job.train" in [e.action for e in platform.store.list_audit(PLANT.tenant)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"training": (ld.START, None)}, "TrainingDataStartTime"),
        ({"sampling": "PT2M"}, "DataPreProcessingConfiguration"),
        ({"off": "engine\\nope < 3"}, "OffCondition"),
        ({"off": "engine\\s2 about 3"}, "OffCondition"),
        ({"sensors": ["engine\\s2", "engine\\s99"]}, "DatasetSchema"),
        ({"labels_s3": ("plant-lookout-models", "none/")}, "LabelsInputConfiguration"),
    ],
)
def test_bad_requests_are_refused_whole(plant: Plant, change: dict[str, Any], field: str) -> None:
    spec = _spec(plant, name="refused", client_token="r", **change)
    with pytest.raises(InvalidInput) as caught:
        training.create_model(plant.platform, PLANT, spec, plant.finder, _no_groups)
    assert caught.value.errors and caught.value.errors[0]["loc"] == ["body", field]
    with pytest.raises(NotFound):
        training.describe(plant.platform, PLANT.tenant, "refused")


def test_an_evaluation_before_the_training_end_and_unknown_datasets_are_refused(plant: Plant) -> None:
    end = plant.boundary()
    early = _spec(plant, name="early", evaluation=(ld.START, end))
    with pytest.raises(InvalidInput, match="evaluation range must start at or after"):
        training.create_model(plant.platform, PLANT, early, plant.finder, _no_groups)
    with pytest.raises(NotFound):
        unknown = _spec(plant, name="x", dataset_name="nope")
        training.create_model(plant.platform, PLANT, unknown, plant.finder, _no_groups)


def test_labels_parse_ratings_and_refuse_bad_rows() -> None:
    data = b"2024-01-01 00:00:00,2024-01-01 01:00:00\n2024-01-02,2024-01-03,NORMAL\n"
    assert len(training.parse_labels(data, "x.csv")) == 1
    with pytest.raises(InvalidInput, match="row 1 ends before it starts"):
        training.parse_labels(b"2024-01-02,2024-01-01\n", "x.csv")
    with pytest.raises(InvalidInput, match="row 1 has no readable start"):
        training.parse_labels(b"yesterday,today\n", "x.csv")

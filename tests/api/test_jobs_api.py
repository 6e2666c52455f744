"""Training requests' ``options``: documented per task in the OpenAPI, checked against the task's model."""

from __future__ import annotations

from typing import Any

import pandas as pd

from conftest import Api
from shopfloor.tasks.catalog import option_model, tasks, trainable


def _dataset(api: Api) -> str:
    frame = pd.DataFrame(
        {"note": [f"pump {i} leaking at seal" for i in range(30)], "system": ["hydraulics", "engine"] * 15}
    )
    answer = api.client.post(
        "/v1/datasets",
        files={"file": ("orders.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": "orders"},
        headers=api.headers("builder"),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _train(api: Api, dataset_id: str, options: dict[str, Any]) -> Any:
    body = {
        "task": "text_classification",
        "dataset_id": dataset_id,
        "target": "system",
        "model_name": "orders",
        "options": options,
    }
    return api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))


def test_openapi_documents_the_options_of_every_trainable_task(api: Api) -> None:
    openapi = api.client.get("/openapi.json").json()
    components = openapi["components"]["schemas"]
    options = components["TrainJobCreate"]["properties"]["options"]
    by_task = options["x-options-by-task"]
    assert set(by_task) == {t for t in tasks() if trainable(t)}
    for task, ref in by_task.items():
        model = option_model(task)
        assert model is not None and ref == f"#/components/schemas/{model.__name__}"
        assert {"$ref": ref} in options["anyOf"] and f"{task}: {model.__name__}" in options["description"]
        schema = components[model.__name__]
        assert schema["additionalProperties"] is False and schema.get("description"), task
        fields = schema.get("properties", {})
        assert set(fields) == set(model.model_fields), task
        for name, field in fields.items():
            assert len(field["description"]) > 20 and field["title"] == model.model_fields[name].title, name
    rul = components["RulOptions"]["properties"]
    assert rul["window"]["minimum"] == 5 and rul["cap"]["default"] == 125.0
    assert set(rul["candidates"]["anyOf"][0]["items"]["enum"]) == {"lightgbm", "cnn", "ensemble"}
    assert components["TabularOptions"].get("properties", {}) == {}


def test_options_of_the_wrong_type_are_refused_where_they_are(api: Api) -> None:
    dataset_id = _dataset(api)
    # a list where a column name belongs once failed with a 500 (an unhashable column lookup)
    listed = _train(api, dataset_id, {"text_column": ["note"], "candidates": ["tfidf"]})
    assert listed.status_code == 422, listed.text
    assert listed.json()["errors"][0]["loc"] == ["body", "options", "text_column"]
    # once queued a job that could never load its encoder
    odd = _train(api, dataset_id, {"encoder": 5, "candidates": ["tfidf"]})
    assert odd.status_code == 422, odd.text
    assert odd.json()["errors"][0]["loc"] == ["body", "options", "encoder"]
    unknown = _train(api, dataset_id, {"colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["body", "options"]
    assert "text_column, label_separator, candidates, encoder, encoder_variant" in unknown.json()["detail"]
    assert api.client.get("/v1/jobs", headers=api.headers("builder")).json()["items"] == []
    fine = _train(api, dataset_id, {"text_column": "note", "candidates": ["tfidf"]})
    assert fine.status_code == 202, fine.text
    assert fine.json()["params"]["options"] == {"text_column": "note", "candidates": ["tfidf"]}

"""One tenant cannot stall or crash the server: deep JSON, bodies without a JSON Content-Type,
explanations and synthetic copies too large for one request are refused with the place."""

from __future__ import annotations

import json

import pytest
from test_models_api import RECORD, trained  # noqa: F401 - the trained model fixture

from conftest import Api

JSON = {"content-type": "application/json"}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_json_is_a_422_on_every_route(api: Api) -> None:
    # Predict once answered a 500 with a RecursionError (and ~120 log lines); FastAPI's routes a bare 400.
    h = {**api.headers("admin"), **JSON}
    body = '{"records": [' + _nested(100_000) + "]}"
    for path in ("/v1/models/line1/predict", "/v1/models/line1/explain", "/v1/masking/preview"):
        response = api.client.post(path, content=body, headers=h)
        assert response.status_code == 422, (path, response.text)
        problem = response.json()
        assert problem["errors"][0]["loc"] == ["body"], path
        assert "nested too deeply" in problem["detail"], path
        assert response.headers["content-type"] == "application/problem+json"


def test_nested_values_and_too_much_lime_work_are_refused_at_their_place(
    trained: Api, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    api = trained
    h = {**api.headers("consumer"), **JSON}
    record = {**RECORD, "Speed [rpm]": json.loads(_nested(500))}
    body = json.dumps({"records": [RECORD, record]})
    for path in ("/v1/models/line1/predict?version=1", "/v1/models/line1/explain?version=1"):
        response = api.client.post(path, content=body, headers=h)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["loc"] == ["body", "records", 1, "Speed [rpm]"]
        assert response.json()["errors"][0]["msg"] == "expected a number, got [[[[[[[...]]]]]]] (list)"

    # 1,000 records of LIME held a core for minutes: the records x samples work is capped per request
    from shopfloor.services import models

    monkeypatch.setitem(models.EXPLAIN_RECORDS, "lime", 2)
    url = "/v1/models/line1/explain?version=1&method=lime"
    refused = api.client.post(url, json={"records": [RECORD] * 3}, headers=h)
    assert refused.status_code == 413, refused.text
    problem = refused.json()
    assert problem["errors"][0]["loc"] == ["body", "records"]
    assert "at most 2 per request" in problem["detail"] and "1000 model evaluations" in problem["detail"]
    assert api.client.post(url, json={"records": [RECORD] * 2}, headers=h).status_code == 200
    shap = api.client.post("/v1/models/line1/explain?version=1", json={"records": [RECORD] * 3}, headers=h)
    assert shap.status_code == 200


def test_a_json_body_without_content_type_is_read_as_json(api: Api) -> None:
    h = api.headers("admin")
    body = json.dumps({"names": ["Ann Lee"], "patterns": [], "reversible": False}).encode()
    response = api.client.put("/v1/masking", content=body, headers=h)
    assert response.status_code == 200, response.text
    assert api.client.get("/v1/masking", headers=h).json()["names"] == ["Ann Lee"]
    # curl -d without -H sends a form type: the 422 says which header to send, and nothing changes
    form = {**h, "content-type": "application/x-www-form-urlencoded"}
    refused = api.client.put("/v1/masking", content=b'{"names": []}', headers=form)
    assert refused.status_code == 422
    assert "Content-Type" in refused.json()["detail"] and "application/json" in refused.json()["detail"]
    assert api.client.get("/v1/masking", headers=h).json()["names"] == ["Ann Lee"]


def test_synthetic_rows_have_an_absolute_bound(api: Api) -> None:
    response = api.client.post(
        "/v1/datasets/ds_x/synthesize", json={"rows": 5_000_000}, headers=api.headers("builder")
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "rows"]

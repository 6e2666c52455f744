"""The Azure layer: the subscription key header and Azure's error shape under its prefix only."""

from __future__ import annotations

from typing import Any

from shopfloor.api.problems import ErrorInfo
from shopfloor.api.routes.azure_common import PREFIX, azure_code

Api = Any


def test_an_unknown_azure_path_answers_in_azures_shape(api: Api) -> None:
    key = {"Ocp-Apim-Subscription-Key": api.keys["admin"]}
    response = api.client.get(f"{PREFIX}/nothing-here", headers=key)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "NotFound" == response.headers["x-ms-error-code"]
    assert body["message"]


def test_another_api_version_gets_its_404_in_azures_shape(api: Api) -> None:
    response = api.client.post("/anomalydetector/v1.0/timeseries/entire/detect", json={})
    assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_other_paths_keep_problem_json(api: Api) -> None:
    response = api.client.get("/v1/nothing-here", headers=api.headers())
    assert response.headers["content-type"].startswith("application/problem+json")


def test_codes_come_from_the_first_item_or_the_status() -> None:
    def info(status: int, *items: dict[str, str]) -> ErrorInfo:
        return ErrorInfo(status, "invalid-input", "Invalid input", "m", list(items))

    item = {"loc": ["body", "series"], "msg": "m", "type": "InvalidSeries"}
    assert azure_code(info(422, item)) == "InvalidSeries"
    bad_json = {"loc": ["body", 1], "msg": "m", "type": "json_invalid"}
    assert azure_code(info(422, bad_json)) == "InvalidJsonFormat"
    assert azure_code(info(422)) == "BadArgument"
    assert azure_code(info(401)) == "Unauthorized"
    assert azure_code(info(500)) == "InternalServerError"

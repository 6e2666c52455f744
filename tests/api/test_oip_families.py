"""/v2 infer for a model of every family: the /v1 predict answers as tensors, built from the model's
metadata alone, or a clean 422 that says to use /v1 for the families that do not answer per record."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api
from zoo import Member

PER_RECORD = [
    "tabular", "imported", "text_classification", "image_anomaly", "image_classification", "forecast"
]
PER_ASSET = ["rul", "anomaly", "series_anomaly"]


def _expected(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    return [value]


@pytest.mark.parametrize("family", PER_RECORD)
def test_infer_answers_what_predict_answers(zoo: tuple[Api, dict[str, Member]], family: str) -> None:
    api, members = zoo
    member = members[family]
    headers = api.headers("consumer")
    meta = api.client.get(f"/v2/models/{member.name}/versions/1", headers=headers).json()
    assert meta["parameters"]["task"] == member.task
    inputs = [
        {
            "name": i["name"],
            "datatype": i["datatype"],
            "shape": [len(member.records)],
            "data": [r[i["name"]] for r in member.records],
        }
        for i in meta["inputs"]
    ]
    answer = api.client.post(
        f"/v2/models/{member.name}/versions/1/infer", json={"inputs": inputs}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    assert [o["name"] for o in meta["outputs"]] == list(outputs)
    predicted = api.client.post(
        f"/v1/models/{member.name}/predict?version=1", json={"records": member.records}, headers=headers
    ).json()["predictions"]
    for declared in meta["outputs"]:
        out = outputs[declared["name"]]
        assert out["datatype"] == declared["datatype"] and len(out["shape"]) == len(declared["shape"])
        expected = [v for p in predicted for v in _expected(p[declared["name"]])]
        if out["datatype"] == "BYTES":
            expected = [str(v) for v in expected]
        assert out["data"] == pytest.approx(expected), declared["name"]


@pytest.mark.parametrize("family", PER_ASSET)
def test_families_answering_per_asset_point_to_v1(zoo: tuple[Api, dict[str, Member]], family: str) -> None:
    api, members = zoo
    member = members[family]
    meta = api.client.get(f"/v2/models/{member.name}/versions/1", headers=api.headers("consumer"))
    assert meta.status_code == 422
    assert f"/v1/models/{member.name}/predict" in meta.json()["error"]

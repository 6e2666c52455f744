"""The Azure multivariate routes in process: the whole cycle on a Shopfloor dataset, and refusals
in Azure's shape (code and message, 400 for input errors, 404 for unknown or other tenants' ids)."""

from __future__ import annotations

from typing import Any

import azure_mv_data as data
from shopfloor.api.routes.azure_common import PREFIX

Api = Any
MV = f"{PREFIX}/multivariate"


def _key(api: Api, who: str = "builder") -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": api.keys[who]}


def _dataset(api: Api, frame: Any) -> str:
    files = {"file": ("series.csv", data.one_table(frame), "text/csv")}
    response = api.client.post("/v1/datasets", headers=api.headers("builder"), files=files)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _train(api: Api, source: str, **more: Any) -> Any:
    body = {
        "dataSource": source,
        "startTime": data.at(0),
        "endTime": data.at(1199),
        "slidingWindow": 60,
        "alignPolicy": {"alignMode": "Outer", "fillNAMethod": "Linear"},
        **more,
    }
    return api.client.post(f"{MV}/models", headers=_key(api), json=body)


def _azure_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code == response.headers["x-ms-error-code"], body
    return str(body["message"])


def test_train_on_a_dataset_then_detect_batch_and_last(api: Api) -> None:
    frame = data.series()
    source = f"shopfloor://datasets/{_dataset(api, frame)}"
    created = _train(api, source, displayName="press 4")
    assert created.status_code == 201, created.text
    model = created.json()
    model_id = model["modelId"]
    assert model["modelInfo"]["status"] == "CREATED"
    assert created.headers["location"].endswith(f"{MV}/models/{model_id}")
    states = model["modelInfo"]["diagnosticsInfo"]["variableStates"]
    assert [s["variable"] for s in states] == ["a", "b", "c"]
    assert all(s["effectiveCount"] == 1200 and s["filledNARatio"] == 0 for s in states)

    early = api.client.post(f"{MV}/models/{model_id}:detect-last", headers=_key(api), json={
        "variables": data.variable_values(frame.tail(30)), "topContributorCount": 3})
    _azure_error(early, 409, "ModelNotReady")

    api.run_jobs()
    ready = api.client.get(f"{MV}/models/{model_id}", headers=_key(api, "consumer")).json()
    assert ready["modelInfo"]["status"] == "READY", ready
    assert ready["modelInfo"]["displayName"] == "press 4"

    normal = frame.tail(30)
    last = api.client.post(f"{MV}/models/{model_id}:detect-last", headers=_key(api, "consumer"), json={
        "variables": data.variable_values(normal), "topContributorCount": 3})
    assert last.status_code == 200, last.text
    assert last.json()["results"][0]["value"]["isAnomaly"] is False

    broken = data.disturbed(normal, "b", last=10, by=3.0)
    last = api.client.post(f"{MV}/models/{model_id}:detect-last", headers=_key(api, "consumer"), json={
        "variables": data.variable_values(broken), "topContributorCount": 2})
    state = last.json()["results"][0]
    assert state["timestamp"] == normal["timestamp"].iloc[-1]
    assert state["value"]["isAnomaly"] is True and 0 < state["value"]["severity"] <= 1
    top = state["value"]["interpretation"]
    assert len(top) == 2 and top[0]["variable"] == "b", top

    test = data.disturbed(data.series(300, seed=1), "c", last=50, by=-3.0)
    test_source = f"shopfloor://datasets/{_dataset(api, test)}"
    batch = api.client.post(f"{MV}/models/{model_id}:detect-batch", headers=_key(api), json={
        "dataSource": test_source, "topContributorCount": 1, "startTime": data.at(100),
        "endTime": data.at(299),
    })
    assert batch.status_code == 202, batch.text
    location = batch.headers["operation-location"]
    assert batch.json()["summary"]["status"] == "CREATED"
    api.run_jobs()
    result = api.client.get(location.split("testserver", 1)[1], headers=_key(api)).json()
    assert result["summary"]["status"] == "READY", result
    rows = result["results"]
    assert len(rows) == 200 and rows[0]["timestamp"] == data.at(100)
    flagged = [r for r in rows if r["value"]["isAnomaly"]]
    assert sum(r["timestamp"] >= data.at(250) for r in flagged) >= 40
    late = [r for r in flagged if r["timestamp"] >= data.at(255)]
    assert late and all(r["value"]["interpretation"][0]["variable"] == "c" for r in late)

    listed = api.client.get(f"{MV}/models", headers=_key(api), params={"top": 1}).json()
    assert listed["currentCount"] == 1 and listed["models"][0]["modelId"] == model_id
    assert listed["nextLink"] is None

    assert api.client.delete(f"{MV}/models/{model_id}", headers=_key(api, "admin")).status_code == 204
    _azure_error(api.client.get(f"{MV}/models/{model_id}", headers=_key(api)), 404, "ModelNotExist")
    assert api.client.get(f"/v1/models/azure-{model_id}", headers=api.headers()).status_code == 404


def test_refusals_are_in_azures_shape_and_store_nothing(api: Api) -> None:
    frame = data.series(400)
    source = f"shopfloor://datasets/{_dataset(api, frame)}"
    datasets_before = len(api.client.get("/v1/datasets", headers=api.headers()).json()["items"])

    _azure_error(api.client.get(f"{MV}/models/no-such-model", headers=_key(api)), 404, "ModelNotExist")
    unknown = api.client.delete(f"{MV}/models/no-such-model", headers=_key(api, "admin"))
    _azure_error(unknown, 404, "ModelNotExist")
    unknown = api.client.get(f"{MV}/detect-batch/no-such-result", headers=_key(api))
    _azure_error(unknown, 404, "ResultNotExist")
    message = _azure_error(
        api.client.post(f"{MV}/models/no-such-model:detect-last", headers=_key(api), json={
            "variables": data.variable_values(frame.tail(5))}),
        404, "ModelNotExist",
    )
    assert "no-such-model" in message

    message = _azure_error(_train(api, "shopfloor://datasets/ds_nothing"), 400, "DataSourceError")
    assert "ds_nothing" in message
    assert "ftp" in _azure_error(_train(api, "ftp://somewhere/file.csv"), 400, "DataSourceError")
    backwards = _train(api, source, startTime=data.at(300), endTime=data.at(10))
    _azure_error(backwards, 400, "InvalidModelArgument")
    short = _train(api, source, endTime=data.at(49), slidingWindow=100)
    short = _azure_error(short, 400, "InvalidModelArgument")
    assert "50 timestamps" in short and "at least 100" in short
    message = _azure_error(_train(api, source, alignPolicy={"fillNAMethod": "Fixed"}), 400, "BadArgument")
    assert "paddingValue" in message
    _azure_error(_train(api, source, alignPolicy={"alignMode": "Sideways"}), 400, "BadArgument")
    _azure_error(_train(api, source, slidingWindow=5), 400, "BadArgument")
    garbled = api.client.post(f"{MV}/models", headers=_key(api), content=b"{not json")
    _azure_error(garbled, 400, "InvalidJsonFormat")
    # another tenant's dataset is no dataset at all
    other = {"Ocp-Apim-Subscription-Key": api.keys["other"]}
    body = {"dataSource": source, "startTime": data.at(0), "endTime": data.at(399), "slidingWindow": 28}
    _azure_error(api.client.post(f"{MV}/models", headers=other, json=body), 400, "DataSourceError")
    # a consumer key may detect, not train
    _azure_error(api.client.post(f"{MV}/models", headers=_key(api, "consumer"), json=body), 403, "Forbidden")
    _azure_error(api.client.get(f"{MV}/models", headers={}), 401, "Unauthorized")

    listed = api.client.get(f"{MV}/models", headers=_key(api)).json()
    assert listed["models"] == [] and listed["currentCount"] == 0
    assert len(api.client.get("/v1/datasets", headers=api.headers()).json()["items"]) == datasets_before
    assert api.client.get("/v1/jobs", headers=api.headers()).json()["items"] == []


def test_detect_last_names_missing_variables_and_other_tenants_see_nothing(api: Api) -> None:
    frame = data.series(600)
    source = f"shopfloor://datasets/{_dataset(api, frame)}"
    model_id = _train(api, source, endTime=data.at(599), slidingWindow=28).json()["modelId"]
    api.run_jobs()
    two = [v for v in data.variable_values(frame.tail(5)) if v["variable"] != "b"]
    message = _azure_error(
        api.client.post(f"{MV}/models/{model_id}:detect-last", headers=_key(api), json={"variables": two}),
        400, "BadArgument",
    )
    assert "b" in message and "lacks 1 variable" in message
    uneven = data.variable_values(frame.tail(5))
    uneven[0]["values"] = uneven[0]["values"][:-1]
    message = _azure_error(
        api.client.post(f"{MV}/models/{model_id}:detect-last", headers=_key(api), json={"variables": uneven}),
        400, "BadArgument",
    )
    assert "5 timestamps but 4 values" in message

    other = {"Ocp-Apim-Subscription-Key": api.keys["other"]}
    _azure_error(api.client.get(f"{MV}/models/{model_id}", headers=other), 404, "ModelNotExist")
    _azure_error(api.client.delete(f"{MV}/models/{model_id}", headers=other), 404, "ModelNotExist")
    _azure_error(
        api.client.post(f"{MV}/models/{model_id}:detect-last", headers=other, json={
            "variables": data.variable_values(frame.tail(5))}),
        404, "ModelNotExist",
    )
    assert api.client.get(f"{MV}/models", headers=other).json()["currentCount"] == 0
    batch = api.client.post(f"{MV}/models/{model_id}:detect-batch", headers=_key(api), json={
        "dataSource": source, "topContributorCount": 2, "startTime": data.at(500), "endTime": data.at(599)})
    result_id = batch.json()["resultId"]
    _azure_error(api.client.get(f"{MV}/detect-batch/{result_id}", headers=other), 404, "ResultNotExist")
    # deleting the model cancels its detection still queued, and the training of a new one
    assert api.client.delete(f"{MV}/models/{model_id}", headers=_key(api)).status_code == 204
    queued = _train(api, source, endTime=data.at(599), slidingWindow=28).json()["modelId"]
    assert api.client.delete(f"{MV}/models/{queued}", headers=_key(api)).status_code == 204
    api.run_jobs()
    jobs = {j["type"]: j["status"] for j in api.client.get("/v1/jobs", headers=api.headers()).json()["items"]
            if j["status"] != "succeeded"}
    assert jobs == {"batch_predict": "cancelled", "train": "cancelled"}
    assert api.client.get("/v1/models", headers=api.headers()).json()["items"] == []

"""POST /v1/models/{name}/optimize: answered at once for small budgets, as a job above 300 trials,
bad requests refused with their place and nothing stored, roles and tenants respected."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from press import RAD, press_request

Api = Any
URL = "/v1/models/press/optimize"


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "speed": rng.uniform(1200, 2800, n).round(1),
            "torque": rng.uniform(10, 70, n).round(2),
            "wear": rng.integers(0, 200, n),
            "Type": rng.choice(["L", "M", "H"], n),
        }
    )
    power = frame["torque"] * frame["speed"] * RAD
    frame["failure"] = ((power > 11000) | (frame["speed"] < 1350)).astype(int)
    return frame


def _train(api: Api) -> None:
    upload = api.client.post(
        "/v1/datasets",
        headers=api.headers("builder"),
        files={"file": ("press.csv", _table().to_csv(index=False).encode(), "text/csv")},
    )
    assert upload.status_code == 201, upload.text
    body = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": upload.json()["id"],
        "target": "failure",
        "model_name": "press",
        "time_budget_s": 3,
    }
    response = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert response.status_code == 202, response.text
    api.run_jobs()
    assert (
        api.client.get(f"/v1/jobs/{response.json()['id']}", headers=api.headers()).json()["status"]
        == "succeeded"
    )
    promoted = api.client.put(
        "/v1/models/press/aliases/production", json={"version": 1}, headers=api.headers()
    )
    assert promoted.status_code == 200, promoted.text


@pytest.fixture()
def press_model(api_with: Any) -> Api:
    """The classifier "press" in production, trained once per run; each test has its own copy."""
    return api_with(_train)


def _check_answer(api: Api, answer: dict[str, Any]) -> None:
    assert answer["status"] == "optimal", answer
    assert (
        answer["model"] == "press"
        and answer["version"] == 1
        and answer["output"]
        == {
            "kind": "probability",
            "class": "1",
        }
    )
    settings = answer["best"]["settings"]
    assert 1200 <= settings["speed"] <= 2800 and 10 <= settings["torque"] <= 70
    assert settings["torque"] * settings["speed"] * RAD >= 3500
    predicted = api.client.post(
        "/v1/models/press/predict",
        json={"records": [answer["best"]["record"]]},
        headers=api.headers("consumer"),
    ).json()
    assert predicted["predictions"][0]["probabilities"]["1"] == answer["best"]["predicted"]
    assert answer["current"]["predicted"] > answer["best"]["predicted"]
    assert set(answer["sensitivity"]) == {"speed", "torque"} and answer["constraints"][0]["satisfied"]


def test_answers_now_and_as_a_job(press_model: Api) -> None:
    api = press_model
    now = api.client.post(URL, json=press_request(), headers=api.headers("consumer"))
    assert now.status_code == 200, now.text
    _check_answer(api, now.json())
    assert now.json()["trials"] == 60 and now.json()["uncertainty"]["points"] == 64

    pinned = api.client.post(
        f"{URL}?version=1", json=press_request(trials=20, sampler="cmaes"), headers=api.headers()
    )
    assert pinned.status_code == 200 and pinned.json()["sampler"] == "cmaes"

    impossible = api.client.post(
        URL,
        json=press_request(constraints=[{"terms": {"power_w": 1}, "op": ">=", "value": 40000}]),
        headers=api.headers(),
    )
    assert impossible.status_code == 200
    assert impossible.json()["status"] == "infeasible" and "power_w >= 40000" in impossible.json()["reason"]

    # A consumer may not start jobs; a builder may.
    big = press_request(trials=320)
    assert api.client.post(URL, json=big, headers=api.headers("consumer")).status_code == 403
    queued = api.client.post(URL, json=big, headers=api.headers("builder"))
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["type"] == "optimize" and job["status"] == "queued" and job["params"]["version"] == 1
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    _check_answer(api, done["result"])
    assert done["result"]["trials"] == 320 and done["progress"] == 1.0


def test_bad_requests_are_refused_and_nothing_is_stored(press_model: Api) -> None:
    api = press_model
    jobs_before = len(api.platform.store.list_jobs("default"))
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (
            press_request(controls={"speed": {"min": 2800, "max": 1200}, "torque": {"min": 10, "max": 70}}),
            ["body", "controls", "speed", "min"],
        ),
        (
            press_request(controls={"rpm": {"min": 1, "max": 2}, "torque": {"min": 10, "max": 70}}),
            ["body", "controls", "rpm"],
        ),
        (press_request(fixed={"wear": 100, "Type": "M", "speed": 1500}), ["body", "fixed", "speed"]),
        (press_request(fixed={"Type": "M"}), ["body", "fixed", "wear"]),
        (press_request(fixed={"wear": "old", "Type": "M"}), ["body", "fixed", "wear"]),
        (
            press_request(derived={"power_w": {"product": ["torque", "rpm"]}}),
            ["body", "derived", "power_w", "product", "rpm"],
        ),
        (
            press_request(constraints=[{"terms": {"power_w": 1}, "op": "=>", "value": 1}]),
            ["body", "constraints", 0, "op"],
        ),
        (press_request(trials=0), ["body", "trials"]),
        (press_request(trials=5001), ["body", "trials"]),
        (press_request(sampler="random"), ["body", "sampler"]),
        (press_request(output=7), ["body", "output"]),
    ]
    for body, loc in cases:
        # The answer-now path and the job path check alike.
        for sent in [body, {**body, "trials": 400}] if body["trials"] == 60 else [body]:
            response = api.client.post(URL, json=sent, headers=api.headers("builder"))
            assert response.status_code == 422, (loc, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert loc in [e["loc"] for e in response.json()["errors"]], (loc, response.json())
    assert len(api.platform.store.list_jobs("default")) == jobs_before
    assert api.client.post(URL, json=press_request(), headers=api.headers("other")).status_code == 404
    assert api.client.post(URL, json=press_request()).status_code == 401
    missing = api.client.post("/v1/models/nothing/optimize", json=press_request(), headers=api.headers())
    assert missing.status_code == 404


def test_a_model_that_is_not_tabular_is_refused(api: Api) -> None:
    api.platform.store.add_version(
        tenant="default",
        model="engines",
        task="rul",
        report={},
        input_schema=[{"name": "s1", "type": "numeric"}],
        files={},
        artifact="default/models/engines/x",
        lineage={},
        job_id=None,
    )
    response = api.client.post(
        "/v1/models/engines/optimize?version=1",
        json={"controls": {"s1": {"min": 0, "max": 1}}},
        headers=api.headers("consumer"),
    )
    assert response.status_code == 422, response.text
    assert "rul model" in response.json()["detail"] and "tabular" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["path", "name"]

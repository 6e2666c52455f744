"""Text classification through the API: work orders uploaded (personal data masked), trained as a
job, served with word explanations and batch scoring; every impossible request refused up front."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import Api

FAST = {"candidates": ["tfidf"]}
PHRASES = {
    "hydraulics": [
        "hyd hose leaking at boom",
        "replace hydraulic pump seal",
        "bucket cyl leaking oil",
        "hyd oil level low top up",
        "main control valve hydraulic leak",
    ],
    "engine": [
        "engine overheating shut down",
        "replace engine oil filter",
        "engine wont start cranks slow",
        "coolant leak at engine block",
        "turbo noise engine loses power",
    ],
    "electrical": [
        "cab lights not working",
        "replace alternator belt and check wiring",
        "battery flat jump start",
        "starter motor relay faulty",
        "horn and wiper fuse blown",
    ],
}
CONTACT_ROW = "replace hydraulic pump seal; call +49 89 1234 5678 or mail j.smith@plant.example"


def _orders(rows: int = 150, seed: int = 0) -> pd.DataFrame:
    """Short work orders over three systems; row 0 holds a phone number and an e-mail address."""
    rng = np.random.default_rng(seed)
    labels = list(PHRASES)
    texts, systems = [], []
    for i in range(rows):
        label = labels[i % len(labels)]
        phrase = PHRASES[label][int(rng.integers(len(PHRASES[label])))]
        side = ["left side", "right side", "rear", "front"][int(rng.integers(4))]
        texts.append(f"{phrase} {side} unit {int(rng.integers(1, 60))}")
        systems.append(label)
    texts[0] = CONTACT_ROW
    return pd.DataFrame({"order": np.arange(1000, 1000 + rows), "text": texts, "system": systems})


def _upload_bytes(api: Api, content: bytes, name: str) -> Any:
    return api.client.post(
        "/v1/datasets",
        files={"file": (f"{name}.csv", content, "text/csv")},
        data={"name": name},
        headers=api.headers("builder"),
    )


def _upload(api: Api, frame: pd.DataFrame, name: str) -> dict[str, Any]:
    response = _upload_bytes(api, frame.to_csv(index=False).encode(), name)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _train(api: Api, dataset_id: str, model: str, target: str = "system", **more: Any) -> Any:
    body = {
        "type": "train",
        "task": "text_classification",
        "dataset_id": dataset_id,
        "target": target,
        "model_name": model,
        **more,
    }
    return api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))


def _jobs(api: Api) -> list[dict[str, Any]]:
    return list(api.client.get("/v1/jobs", headers=api.headers("builder")).json()["items"])


def _train_orders(api: Api) -> None:
    dataset = _upload(api, _orders(), "orders")
    job = _train(api, dataset["id"], "orders", options=FAST)
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    promoted = api.client.put(
        "/v1/models/orders/aliases/production", json={"version": 1}, headers=api.headers("builder")
    )
    assert promoted.status_code == 200, promoted.text


@pytest.fixture
def orders(api_with: Any) -> Api:
    """A tf-idf model "orders" trained on :func:`_orders`, version 1 promoted to production (once per
    run; each test changes only its own copy)."""
    return api_with(_train_orders)


def test_upload_masks_contacts_in_the_text_column(api: Api) -> None:
    dataset = _upload(api, _orders(), "orders")
    assert dataset["masking"]["columns"] == {"text": {"phone": 1, "email": 1}}
    shown = api.client.get(f"/v1/datasets/{dataset['id']}", headers=api.headers("builder")).json()
    assert shown["masking"]["totals"] == {"phone": 1, "email": 1}
    text = next(c for c in shown["columns"] if c["name"] == "text")
    assert text["type"] == "text" and text["masking"] == {"phone": 1, "email": 1}
    assert "j.smith@plant.example" not in str(shown) and "1234 5678" not in str(shown)


def test_trained_text_model_reports_predicts_and_explains(orders: Api) -> None:
    api, h = orders, orders.headers("consumer")
    version = api.client.get("/v1/models/orders/versions/1", headers=h).json()
    assert version["task"] == "text_classification"
    assert version["chosen"] == "tfidf"
    assert [c["name"] for c in version["candidates"]] == ["tfidf"]
    assert {"f1", "accuracy"} <= set(version["metrics"])
    assert version["metrics"]["accuracy"] >= 0.9
    assert version["report"]["text_column"] == "text"
    assert version["input_schema"][0]["name"] == "text"

    records = [{"text": "hyd hose leaking at the boom"}, {"text": "battery flat again, jump start"}]
    answer = api.client.post("/v1/models/orders/predict", json={"records": records}, headers=h)
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["predictions"]
    assert first["label"] == "hydraulics" and second["label"] == "electrical"
    assert set(first["probabilities"]) == set(PHRASES)
    assert sum(first["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)

    text = "bucket cyl leaking oil"
    for params in ({"method": "occlusion"}, {}):
        explained = api.client.post(
            "/v1/models/orders/explain", params=params, json={"records": [{"text": text}]}, headers=h
        )
        assert explained.status_code == 200, (params, explained.text)
        found = explained.json()["explanations"][0]
        assert found["class"] == "hydraulics"
        words = found["contributions"]
        assert words and all({"token", "start", "end", "weight"} <= set(w) for w in words)
        assert all(text[w["start"] : w["end"]] == w["token"] for w in words)
        assert {words[0]["token"], words[1]["token"]} & {"bucket", "cyl", "leaking"}


def test_predict_refuses_empty_text_and_cuts_long_text_with_a_warning(orders: Api) -> None:
    api, h = orders, orders.headers("consumer")
    for blank in ("", "  "):
        empty = api.client.post("/v1/models/orders/predict", json={"records": [{"text": blank}]}, headers=h)
        assert empty.status_code == 422, empty.text
        assert empty.json()["errors"][0]["loc"] == ["body", "records", 0, "text"]
    long = "engine overheating " * 160
    assert len(long[:3000]) == 3000
    answer = api.client.post(
        "/v1/models/orders/predict", json={"records": [{"text": long[:3000]}]}, headers=h
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"][0]["label"] == "engine"
    assert body["predictions"][0]["warnings"] and body["warnings"]
    assert "2000" in body["warnings"][0]


def test_batch_scoring_writes_prediction_and_probabilities(orders: Api) -> None:
    api = orders
    frame = _orders(12, seed=7)[["order", "text"]]
    job = api.client.post(
        "/v1/models/orders/batch",
        files={"file": ("new.csv", frame.to_csv(index=False).encode(), "text/csv")},
        headers=api.headers("builder"),
    )
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    result = api.client.get(f"/v1/jobs/{job.json()['id']}/result", headers=api.headers("builder"))
    assert result.status_code == 200, result.text
    scored = pd.read_csv(io.BytesIO(result.content))
    assert len(scored) == len(frame)
    assert {"prediction", *(f"proba_{c}" for c in PHRASES)} <= set(scored.columns)
    assert (scored["prediction"] == _orders(12, seed=7)["system"]).mean() >= 0.9
    proba = scored[[f"proba_{c}" for c in PHRASES]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_impossible_training_requests_are_refused_and_store_no_job(api: Api) -> None:
    frame = _orders()
    dataset = _upload(api, frame, "orders")["id"]
    one_class = _upload(api, frame.assign(system="hydraulics"), "one-class")["id"]
    notes = [
        f"checked by shift {i % 7}, {['ok', 'see photo', 'parts on order'][i % 3]} ref {i}"
        for i in range(len(frame))
    ]
    two_texts = _upload(api, frame.assign(note=notes), "two-texts")["id"]
    before = _jobs(api)
    options = ["body", "options"]
    cases = {
        "one class": (_train(api, one_class, "m", options=FAST), ["body", "target"]),
        "missing text column": (
            _train(api, dataset, "m", options={**FAST, "text_column": "nope"}),
            [*options, "text_column"],
        ),
        "unknown option": (_train(api, dataset, "m", options={"colour": 1}), options),
        "reserved option": (_train(api, dataset, "m", options={"metric": "f1"}), [*options, "metric"]),
        "unknown candidate": (
            _train(api, dataset, "m", options={"candidates": ["nope"]}),
            [*options, "candidates"],
        ),
        "unknown encoder": (
            _train(api, dataset, "m", options={"encoder": "gpt-17", "candidates": ["embedding"]}),
            [*options, "encoder"],
        ),
        "two text columns": (_train(api, two_texts, "m", options=FAST), [*options, "text_column"]),
    }
    for case, (response, loc) in cases.items():
        assert response.status_code == 422, (case, response.text)
        problem = response.json()
        assert problem["errors"][0]["loc"] == loc, (case, problem)
    assert "colour" in cases["unknown option"][0].json()["errors"][0]["msg"]
    assert "note" in cases["two text columns"][0].json()["detail"]
    assert _jobs(api) == before == []


def test_non_utf8_upload_is_refused_with_its_line(api: Api) -> None:
    content = "order,text,system\n1,pump seal replaced,hydraulics\n2,Müller: engine oil filter,engine\n"
    raw = content.encode("cp1252")
    offset = raw.index(b"\xfc")  # the "ü" of "Müller": one byte in cp1252, invalid as UTF-8
    response = _upload_bytes(api, raw, "latin")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:shopfloor:problem:invalid-dataset"
    assert problem["errors"] == [{"loc": ["line", 3], "msg": f"invalid UTF-8 byte at offset {offset}"}]
    assert "not valid UTF-8" in problem["detail"] and "0xfc" in problem["detail"]
    assert "save the file as CSV UTF-8" in problem["detail"]
    assert api.client.get("/v1/datasets", headers=api.headers("builder")).json()["items"] == []
    assert api.scratch_files() == []

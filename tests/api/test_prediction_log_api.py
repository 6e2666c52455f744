"""The prediction log through the API: sampling per model, sealed at rest, masked, exported, kept for the
tenant's retention; feedback and live performance; another tenant sees none of it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from shopfloor.services import prediction_log

Api = Any
MODEL = "line1"


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    kind = rng.choice(["L", "M", "H"], size=n)
    y = ((x1 + 0.5 * x2 + (kind == "H") * 1.0 + rng.normal(scale=0.3, size=n)) > 1.0).astype(int)
    return pd.DataFrame(
        {"serial": [f"S{i:05d}" for i in range(n)], "speed": x1, "torque": x2, "Type": kind, "failure": y}
    )


def _train(api: Api) -> None:
    frame = _table()
    files = {"file": ("t.csv", frame.to_csv(index=False).encode(), "text/csv")}
    dataset = api.client.post("/v1/datasets", headers=api.headers("builder"), files=files).json()
    body = {
        "task": "tabular_classification", "dataset_id": dataset["id"], "target": "failure",
        "exclude": ["serial"], "model_name": MODEL, "time_budget_s": 10,
    }
    assert api.client.post("/v1/jobs", json=body, headers=api.headers("builder")).status_code == 202
    api.run_jobs()
    promoted = api.client.put(
        f"/v1/models/{MODEL}/aliases/production", json={"version": 1}, headers=api.headers("builder")
    )
    assert promoted.status_code == 200, promoted.text


@pytest.fixture()
def trained(api_with: Any) -> Api:
    return api_with(_train)


def _records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    frame = _table(n, seed).drop(columns=["failure"])
    return frame.to_dict("records")


def _predict(api: Api, records: list[dict[str, Any]], request_id: str | None = None) -> dict[str, Any]:
    headers = {**api.headers("consumer"), **({"X-Request-ID": request_id} if request_id else {})}
    response = api.client.post(f"/v1/models/{MODEL}/predict", json={"records": records}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _set_rate(api: Api, rate: float, who: str = "builder") -> Any:
    return api.client.put(f"/v1/models/{MODEL}/prediction-log", json={"rate": rate}, headers=api.headers(who))


def _feedback(api: Api, items: list[dict[str, Any]], who: str = "consumer") -> Any:
    return api.client.post(f"/v1/models/{MODEL}/feedback", json={"items": items}, headers=api.headers(who))


def _export(api: Api, query: str = "", who: str = "builder") -> list[dict[str, Any]]:
    api.platform.prediction_log.flush()
    response = api.client.get(f"/v1/models/{MODEL}/predictions?{query}", headers=api.headers(who))
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_logging_is_off_until_a_rate_is_set_then_sampled_at_that_rate(trained: Api) -> None:
    api = trained
    _predict(api, _records(5))
    assert _export(api) == []
    assert _set_rate(api, 1.0, who="consumer").status_code == 403
    assert _set_rate(api, 1.5).status_code == 422
    assert _set_rate(api, 1.0).json() == {"model": MODEL, "rate": 1.0, "retention_days": 30}
    answer = _predict(api, _records(3), request_id="order-4711")
    rows = _export(api)
    assert [(r["request_id"], r["index"], r["source"], r["version"]) for r in rows] == [
        ("order-4711", i, "predict", 1) for i in range(3)
    ]
    assert [r["answer"]["label"] for r in rows] == [p["label"] for p in answer["predictions"]]
    assert set(rows[0]["inputs"]) == {"speed", "torque", "Type"}  # what the model reads: no serial
    assert rows[0]["latency_ms"] > 0 and rows[0]["outcome"] is None
    assert _set_rate(api, 0.5).status_code == 200
    for k in range(8):
        _predict(api, _records(50, seed=10 + k))
    sampled = len(_export(api)) - 3
    assert 140 < sampled < 260  # 400 answers at 0.5: 200 +- 10 expected
    _set_rate(api, 0.0)
    _predict(api, _records(20))
    assert len(_export(api)) == 3 + sampled
    events = api.client.get("/v1/audit?action=prediction_log.rate", headers=api.headers()).json()["items"]
    assert [e["detail"]["rate"] for e in events] == [1.0, 0.5, 0.0]


def test_logged_inputs_are_sealed_at_rest_and_masked(trained: Api) -> None:
    api = trained
    policy = {"names": ["Ann Lee"], "patterns": [], "reversible": False}
    assert api.client.put("/v1/masking", json=policy, headers=api.headers()).status_code == 200
    _set_rate(api, 1.0)
    record = {"speed": 1.23456789, "torque": 0.5, "Type": "Ann Lee, ann.lee@example.com"}
    _predict(api, [record])
    (row,) = _export(api)
    assert row["inputs"]["speed"] == 1.23456789
    assert "Ann Lee" not in row["inputs"]["Type"] and "example.com" not in row["inputs"]["Type"]
    assert "[NAME]" in row["inputs"]["Type"] and "[EMAIL]" in row["inputs"]["Type"]
    with api.platform.store.engine.connect() as conn:
        raw = b"".join(
            repr(tuple(r)).encode()
            for table in ("prediction_log_blobs", "prediction_log")
            for r in conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed table names
        )
    assert b"1.23456789" not in raw and b"Ann" not in raw and b"0.5" not in raw


def test_export_as_csv_cannot_start_a_formula(trained: Api) -> None:
    api = trained
    _set_rate(api, 1.0)
    _predict(api, _records(2), request_id="=cmd+calc")
    api.platform.prediction_log.flush()
    response = api.client.get(f"/v1/models/{MODEL}/predictions?format=csv", headers=api.headers("builder"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 and rows[0]["request_id"] == "'=cmd+calc"
    assert json.loads(rows[1]["inputs"])["Type"] in ("L", "M", "H") and rows[1]["index"] == "1"
    consumer = api.client.get(f"/v1/models/{MODEL}/predictions", headers=api.headers("consumer"))
    assert consumer.status_code == 403
    exports = api.client.get("/v1/audit?action=prediction_log.export", headers=api.headers()).json()["items"]
    assert exports[0]["detail"]["format"] == "csv" and exports[0]["target"] == MODEL


@pytest.mark.backends("sqlite", "postgresql")
def test_feedback_by_request_and_by_record_id_then_performance(trained: Api) -> None:
    api = trained
    _set_rate(api, 1.0)
    frame = _table(200, seed=5)
    truth = frame.pop("failure").tolist()
    for k in range(4):
        _predict(api, frame.iloc[50 * k : 50 * (k + 1)].to_dict("records"), request_id=f"batch-{k}")
    rows = _export(api)
    by_request = [{"request_id": "batch-0", "index": i, "outcome": truth[i]} for i in range(50)]
    by_record = [{"record_id": r["record_id"], "outcome": truth[50 + r["index"]]} for r in rows[50:100]]
    sent = _feedback(api, by_request + by_record)
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == 100 and sent.json()["kind"] == "label"
    found = api.client.get(
        f"/v1/models/{MODEL}/performance?window=50&windows=4", headers=api.headers("consumer")
    ).json()
    windows = found["windows"]
    assert [w["predictions"] for w in windows] == [50] * 4
    assert [w["outcomes"] for w in windows] == [50, 50, 0, 0]
    assert found["metrics"] == ["f1", "pr_auc"] and found["baseline"]["f1"] is not None
    realised = windows[0]["realised"]
    assert 0.5 < realised["f1"] <= 1 and 0.5 < realised["pr_auc"] <= 1
    assert windows[2]["realised"] is None
    assert found["estimation"]["available"] is True
    assert all(0 <= w["estimated"]["f1"] <= 1 for w in windows)
    by_time = api.client.get(
        f"/v1/models/{MODEL}/performance?window=1h&windows=3", headers=api.headers("consumer")
    ).json()
    assert [w["predictions"] for w in by_time["windows"]] == [0, 0, 200]
    assert by_time["windows"][-1]["outcomes"] == 100
    plot = f"/v1/models/{MODEL}/performance/plot?window=50&windows=4"
    png = api.client.get(plot, headers=api.headers("consumer"))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    exported = _export(api, "request_id=batch-0")
    assert [r["outcome"] for r in exported] == truth[:50]
    # feedback sent again replaces the earlier one
    again = [{"request_id": "batch-0", "index": 0, "outcome": 1 - truth[0]}]
    assert _feedback(api, again).status_code == 200
    assert _export(api, "request_id=batch-0&limit=1")[0]["outcome"] == 1 - truth[0]


def test_feedback_is_checked_whole_and_stores_nothing_when_refused(trained: Api) -> None:
    api = trained
    _set_rate(api, 1.0)
    _predict(api, _records(3), request_id="r1")
    _predict(api, _records(2), request_id="r1")  # the client reused its id
    (first, *_) = _export(api)

    def post(items: list[dict[str, Any]], who: str = "consumer") -> Any:
        return _feedback(api, items, who)

    record = first["record_id"]
    unknown = post([{"record_id": record, "outcome": 1}, {"record_id": "abcdef012345-9", "outcome": 0}])
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["loc"] == ["body", "items", 1, "record_id"]
    assert "abcdef012345-9" in unknown.json()["errors"][0]["msg"]
    wrong = post([{"record_id": record, "outcome": 2.5}, {"record_id": record, "outcome": "x"}])
    assert wrong.status_code == 422
    assert [e["loc"][2:] for e in wrong.json()["errors"]] == [[0, "outcome"], [1, "outcome"]]
    assert "not a class" in wrong.json()["errors"][1]["msg"]
    assert post([{"request_id": "r1", "index": 0, "outcome": 1}]).status_code == 409  # reused id: which one?
    assert post([{"request_id": "nope", "index": 0, "outcome": 1}]).status_code == 404
    assert post([{"outcome": 1}]).status_code == 422
    assert post([{"record_id": first["record_id"], "outcome": 1}], who="other").status_code == 404
    assert all(r["outcome"] is None for r in _export(api))  # nothing stored by any refused call
    assert post([{"record_id": first["record_id"], "outcome": 1}], who="metrics").status_code == 403


def test_another_tenant_sees_no_log_settings_or_performance(trained: Api) -> None:
    api = trained
    _set_rate(api, 1.0)
    _predict(api, _records(2))
    api.platform.prediction_log.flush()
    h = api.headers("other")
    for path in ("predictions", "prediction-log", "performance", "performance/plot"):
        assert api.client.get(f"/v1/models/{MODEL}/{path}", headers=h).status_code == 404, path
    refused = api.client.put(f"/v1/models/{MODEL}/prediction-log", json={"rate": 1}, headers=h)
    assert refused.status_code == 404
    api.client.put("/v1/models/mine/prediction-log", json={"rate": 1}, headers=h)
    assert api.platform.store.log_rates("other") == {}


def test_performance_of_a_model_trained_before_calibration_says_not_available(trained: Api) -> None:
    api = trained
    with api.platform.store.engine.begin() as conn:  # a version registered before this change
        report = json.loads(conn.execute(text("SELECT report FROM model_versions")).scalar_one())
        report.pop("calibration")
        conn.execute(text("UPDATE model_versions SET report = :r"), {"r": json.dumps(report)})
    api.platform.models.forget()
    _set_rate(api, 1.0)
    _predict(api, _records(20))
    api.platform.prediction_log.flush()
    path = f"/v1/models/{MODEL}/performance"
    found = api.client.get(f"{path}?window=10&windows=2", headers=api.headers()).json()
    assert found["estimation"]["available"] is False and "not available" in found["estimation"]["reason"]
    assert [w["estimated"] for w in found["windows"]] == [None, None]
    assert api.client.get(f"{path}?window=5", headers=api.headers()).status_code == 422


def test_batch_jobs_log_their_rows_under_the_request_that_queued_them(trained: Api) -> None:
    api = trained
    _set_rate(api, 1.0)
    frame = _table(30, seed=8).drop(columns=["failure"])
    response = api.client.post(
        f"/v1/models/{MODEL}/batch",
        headers={**api.headers("builder"), "X-Request-ID": "nightly-7"},
        files={"file": ("new.csv", frame.to_csv(index=False).encode(), "text/csv")},
    )
    assert response.status_code == 202, response.text
    api.run_jobs()
    rows = _export(api)
    found = [(r["source"], r["request_id"], r["index"]) for r in rows]
    assert found == [("batch", "nightly-7", i) for i in range(30)]
    assert set(rows[0]["answer"]) == {"label", "probabilities"}
    sent = _feedback(api, [{"request_id": "nightly-7", "index": 29, "outcome": 0}])
    assert sent.status_code == 200 and sent.json()["records"] == [rows[29]["record_id"]]


def test_retention_is_set_by_admins_and_applied_by_the_sweep(trained: Api) -> None:
    api = trained
    path = "/v1/prediction-log/retention"
    assert api.client.put(path, json={"days": 2}, headers=api.headers("builder")).status_code == 403
    assert api.client.put(path, json={"days": 0}, headers=api.headers()).status_code == 422
    got = api.client.put(path, json={"days": 2}, headers=api.headers()).json()
    assert got == {"tenant": "default", "retention_days": 2, "own": 2, "default": 30}
    _set_rate(api, 1.0)
    _predict(api, _records(4))
    api.platform.prediction_log.flush()
    now = datetime.now(UTC)
    assert prediction_log.sweep(api.platform, now + timedelta(days=1)) == 0
    assert prediction_log.sweep(api.platform, now + timedelta(days=3)) == 4
    assert _export(api) == []
    events = api.client.get("/v1/audit?action=prediction_log.retention", headers=api.headers()).json()
    assert events["items"][0]["detail"] == {"days": 2}

"""The audit log: one event per audited action, predictions counted per minute, admins only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shopfloor.services import audit

Api = Any


def _events(api: Api, **params: Any) -> list[dict[str, Any]]:
    audit.flush(api.platform, everything=True)
    response = api.client.get("/v1/audit", params=params, headers=api.headers())
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _key_id(api: Api, who: str) -> str:
    return "key_" + api.keys[who].split("_", 2)[1]


def _upload(api: Api, who: str = "builder") -> str:
    csv = "x1,x2,y\n" + "".join(f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}\n" for i in range(120))
    response = api.client.post(
        "/v1/datasets", headers=api.headers(who), files={"file": ("t.csv", csv.encode(), "text/csv")}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _train(api: Api, dataset_id: str) -> dict[str, Any]:
    body = {
        "task": "tabular_classification",
        "dataset_id": dataset_id,
        "target": "y",
        "model_name": "m1",
        "time_budget_s": 5,
    }
    response = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert response.status_code == 202, response.text
    return dict(response.json())


def _train_m1(api: Api) -> None:
    _train(api, _upload(api))
    api.run_jobs()


@pytest.fixture()
def trained(api_with: Any) -> Api:
    """m1 version 1, trained once per run; each test changes only its own copy."""
    return api_with(_train_m1)


def test_each_action_gives_one_event_with_who_and_what(trained: Api) -> None:
    api = trained
    builder = _key_id(api, "builder")
    alias = api.client.put(
        "/v1/models/m1/aliases/production", json={"version": 1}, headers=api.headers("builder")
    )
    assert alias.status_code == 200
    job = _train(api, _upload(api))
    assert api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.headers("builder")).status_code == 200
    batch = api.client.post(
        "/v1/models/m1/batch",
        headers=api.headers("builder"),
        files={"file": ("b.csv", b"x1,x2\n1,2\n3,4\n", "text/csv")},
    )
    assert batch.status_code == 202, batch.text
    created = api.client.post("/v1/keys", json={"role": "consumer", "name": "line"}, headers=api.headers())
    assert api.client.delete(f"/v1/keys/{created.json()['id']}", headers=api.headers()).status_code == 204

    events = _events(api)
    by_action: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    assert len(by_action["dataset.upload"]) == 2
    assert len(by_action["job.train"]) == 2
    for action, target in [
        ("model.alias", "m1@production"),
        ("job.cancel", job["id"]),
        ("job.batch", batch.json()["id"]),
    ]:
        (event,) = by_action[action]
        assert (event["key_id"], event["tenant"], event["role"], event["target"]) == (
            builder,
            "default",
            "builder",
            target,
        ), event
        assert event["outcome"] == "ok" and event["at"]
    (made,) = by_action["key.create"]
    (revoked,) = by_action["key.revoke"]
    assert made["target"] == revoked["target"] == created.json()["id"]
    assert made["role"] == "admin" and made["detail"] == {"role": "consumer", "name": "line"}
    secret = created.json()["secret"]
    raw = json.dumps(events)
    assert secret not in raw and secret.split("_", 2)[2] not in raw
    # another tenant sees none of it
    other = api.client.get("/v1/audit", headers=api.headers("other")).json()["items"]
    assert all(e["tenant"] == "other" for e in other)


def test_predictions_are_counted_per_minute(trained: Api) -> None:
    api = trained
    api.client.put("/v1/models/m1/aliases/production", json={"version": 1}, headers=api.headers())
    for _ in range(5):
        r = api.client.post(
            "/v1/models/m1/predict", json={"records": [{"x1": 1, "x2": 2}]}, headers=api.headers("consumer")
        )
        assert r.status_code == 200, r.text
    assert not [e for e in _events(api, action="prediction.count") if e["key_id"] == _key_id(api, "admin")]
    (event,) = _events(api, action="prediction.count")
    assert event["key_id"] == _key_id(api, "consumer") and event["role"] == "consumer"
    assert event["target"] == "m1:1"
    assert event["detail"]["count"] == 5 and event["detail"]["kind"] == "predict"


def test_denied_requests_are_audited(api: Api) -> None:
    assert api.client.get("/v1/keys", headers=api.headers("consumer")).status_code == 403
    wrong = api.keys["builder"][:-4] + "AAAA"
    assert api.client.get("/v1/models", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    assert api.client.get("/v1/models", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    denied = _events(api, action="auth.denied")
    assert len(denied) == 2
    forbidden = next(e for e in denied if e["key_id"] == _key_id(api, "consumer"))
    assert forbidden["outcome"] == "denied" and forbidden["target"] == "/v1/keys"
    bad = next(e for e in denied if e["key_id"] == _key_id(api, "builder"))
    assert bad["outcome"] == "denied" and bad["detail"]["reason"] == "invalid API key"
    assert wrong.split("_", 2)[2] not in json.dumps(denied)


def test_only_admins_read_the_log(api: Api) -> None:
    for who in ("builder", "consumer"):
        assert api.client.get("/v1/audit", headers=api.headers(who)).status_code == 403
        assert api.client.get("/v1/audit/export", headers=api.headers(who)).status_code == 403
    assert api.client.get("/v1/audit").status_code == 401


def test_filters_paging_and_json_lines(api: Api) -> None:
    for _ in range(3):
        _upload(api, "admin")
    _upload(api, "builder")
    everything = _events(api)
    assert len(everything) == 4
    assert len(_events(api, key_id=_key_id(api, "builder"))) == 1
    assert len(_events(api, action="dataset.upload")) == 4
    assert _events(api, action="job.train") == []
    first = everything[0]
    assert _events(api, until=first["at"]) == []
    assert len(_events(api, since=first["at"])) == 4
    page = api.client.get("/v1/audit", params={"limit": 2}, headers=api.headers()).json()
    assert len(page["items"]) == 2 and page["next_after_id"] == page["items"][1]["id"]
    rest = _events(api, after_id=page["next_after_id"])
    assert [e["id"] for e in page["items"] + rest] == [e["id"] for e in everything]
    assert api.client.get("/v1/audit", params={"limit": 10_001}, headers=api.headers()).status_code == 422
    assert (
        api.client.get("/v1/audit", params={"since": "yesterday"}, headers=api.headers()).status_code == 422
    )
    for url, params in [("/v1/audit", {"format": "jsonl"}), ("/v1/audit/export", {})]:
        response = api.client.get(url, params=params, headers=api.headers())
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert [e["id"] for e in lines] == [e["id"] for e in everything]
    lines = api.client.get(
        "/v1/audit/export", params={"action": "dataset.upload", "limit": 3}, headers=api.headers()
    )
    assert len(lines.text.splitlines()) == 3


def test_every_job_type_is_audited_through_one_path(trained: Api) -> None:
    """train, batch, synthesize and optimize jobs: each one event, with the key that started it."""
    api = trained
    builder = _key_id(api, "builder")
    h = api.headers("builder")
    started = {"job.train": _train(api, _upload(api))["id"]}
    csv = {"file": ("b.csv", b"x1,x2\n1,2\n", "text/csv")}
    batch = api.client.post("/v1/models/m1/batch?version=1", headers=h, files=csv)
    assert batch.status_code == 202, batch.text
    started["job.batch"] = batch.json()["id"]
    synth = api.client.post(f"/v1/datasets/{_upload(api)}/synthesize", json={}, headers=h)
    assert synth.status_code == 202, synth.text
    started["job.synthesize"] = synth.json()["id"]
    body = {"controls": {"x1": {"min": 0, "max": 6}}, "fixed": {"x2": 1}, "trials": 320}
    optimize = api.client.post("/v1/models/m1/optimize?version=1", json=body, headers=h)
    assert optimize.status_code == 202, optimize.text
    started["job.optimize"] = optimize.json()["id"]
    events = _events(api)
    for action, job_id in started.items():
        found = [e for e in events if e["action"] == action and e["target"] == job_id]
        assert len(found) == 1, (action, events)
        assert found[0]["key_id"] == builder and found[0]["role"] == "builder"


def test_a_flood_of_made_up_keys_never_hides_real_denials(api: Api) -> None:
    for i in range(400):
        fake = f"sfk_{i:012x}_{'x' * 20}"
        response = api.client.get("/v1/models", headers={"Authorization": f"Bearer {fake}"})
        assert response.status_code == 401
    assert api.client.get("/v1/keys", headers=api.headers("consumer")).status_code == 403
    wrong = api.keys["builder"][:-4] + "AAAA"  # a real key id, a wrong secret
    for _ in range(40):  # a flood of one real key: at most 20 events a minute, the rest summed up
        audit.flush(api.platform)  # as the server does every second: each failure its own event
        assert api.client.get("/v1/models", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    events = _events(api, limit=10_000)
    denied = [e for e in events if e["action"] == "auth.denied"]
    assert any(e["key_id"] == _key_id(api, "consumer") and e["target"] == "/v1/keys" for e in denied)
    builder = [e for e in events if e["key_id"] == _key_id(api, "builder")]
    assert 20 <= len(builder) <= 42  # 20 events a minute, then a summary (two minutes at most)
    assert sum(e["detail"].get("count", 1) for e in builder) == 40  # every denial accounted for
    assert any(e["action"] == "auth.denied.summary" for e in builder)
    assert all(e["tenant"] == "default" for e in events)  # made-up ids are in no tenant's log
    flood = api.platform.store.list_audit(audit.PLATFORM, action="auth.denied.summary")
    assert 1 <= len(flood) <= 2  # one per minute (two if the test ran over a minute's edge)
    assert sum(e.detail["count"] for e in flood) == 400
    assert sum(e.detail["distinct_key_ids"] for e in flood) == 400
    assert flood[0].detail["sample_key_ids"][0] == "key_000000000000"

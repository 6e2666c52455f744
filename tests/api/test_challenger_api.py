"""A model's challenger through the API: shadow answers with the champion and records both sides, canary
splits requests by a hash of their id, the comparison report and its chart, promotion with an
optimistic check, audit, roles, another tenant, and two apps on one registry.

The models are of a family kept in tests/ (threshold_family.py) whose answers are known in advance.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

import threshold_family
from shopfloor.api.app import create_app
from shopfloor.context import Platform
from shopfloor.serving.challenger import ShadowQueue

Api = Any
LABEL, VALUE, ALARM = threshold_family.LABEL, threshold_family.VALUE, threshold_family.ALARM


@pytest.fixture()
def models(threshold_models: Api) -> Api:
    return threshold_models


def _set(api: Api, mode: str, name: str = LABEL, who: str = "builder", **body: Any) -> Any:
    body = {"mode": mode, **body}
    return api.client.put(f"/v1/models/{name}/challenger", json=body, headers=api.headers(who))


def _predict(
    api: Api, xs: list[float], name: str = LABEL, request_id: str | None = None, key: str | None = None,
    query: str = "",
) -> dict[str, Any]:
    headers = dict(api.headers("consumer"))
    if request_id:
        headers["X-Request-ID"] = request_id
    if key:
        headers["X-Canary-Key"] = key
    records = [{"x": x, "asset": "a"} for x in xs]
    url = f"/v1/models/{name}/predict{query}"
    response = api.client.post(url, json={"records": records}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _settle(api: Api) -> None:
    assert api.platform.challengers.queue.wait_idle(20)
    api.platform.prediction_log.flush()


def _export(api: Api, name: str = LABEL, query: str = "") -> list[dict[str, Any]]:
    _settle(api)
    response = api.client.get(f"/v1/models/{name}/predictions?{query}", headers=api.headers("builder"))
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def _feedback(api: Api, name: str, items: list[dict[str, Any]]) -> Any:
    url = f"/v1/models/{name}/feedback"
    return api.client.post(url, json={"items": items}, headers=api.headers("consumer"))


def _report(api: Api, name: str = LABEL, query: str = "", who: str = "consumer") -> dict[str, Any]:
    _settle(api)
    response = api.client.get(f"/v1/models/{name}/challenger/report?{query}", headers=api.headers(who))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_setting_a_mode_is_checked_and_audited(models: Api) -> None:
    api = models
    assert _set(api, "shadow").status_code == 409  # no challenger alias yet
    assert _set(api, "shadow", version=1).status_code == 409  # the production version itself
    assert _set(api, "shadow", version=99).status_code == 404
    assert _set(api, "canary", version=2).status_code == 422  # canary needs a share
    assert _set(api, "shadow", version=2, share=0.5).status_code == 422  # a share is for canary only
    assert _set(api, "canary", version=2, share=1.5).status_code == 422
    assert _set(api, "sometimes", version=2).status_code == 422
    assert _set(api, "shadow", version=2, who="consumer").status_code == 403
    found = _set(api, "canary", version=2, share=0.25)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["mode"], body["share"], body["champion"], body["challenger"]) == ("canary", 0.25, 1, 2)
    assert body["updated_by"].startswith("key_") and "POST /v1/models/{name}/predict" in body["routes"]
    read = api.client.get(f"/v1/models/{LABEL}/challenger", headers=api.headers("consumer")).json()
    assert read == body
    assert _set(api, "off").json()["mode"] == "off"
    events = api.client.get("/v1/audit?action=challenger.mode", headers=api.headers()).json()["items"]
    assert [(e["detail"]["mode"], e["detail"].get("share")) for e in events][-2:] in (
        [("canary", 0.25), ("off", 0.0)],
        [("off", 0.0), ("canary", 0.25)],
    )


def test_shadow_answers_with_the_champion_and_records_both_sides(models: Api) -> None:
    api = models
    assert _set(api, "shadow", version=2).status_code == 200
    answer = _predict(api, [-1.0, 0.2, 0.7], request_id="order-1")
    # the caller gets the champion's answer (cut 0): 0.2 is high for it, low for the challenger
    assert answer["version"] == 1
    assert [p["label"] for p in answer["predictions"]] == ["low", "high", "high"]
    rows = _export(api)  # logged although the model's sampling rate is 0
    sides = {(r["source"], r["version"], r["index"]): r["answer"]["label"] for r in rows}
    served = {("champion:served", 1, i): label for i, label in enumerate(["low", "high", "high"])}
    shadowed = {("challenger:shadow", 2, i): label for i, label in enumerate(["low", "low", "high"])}
    assert sides == {**served, **shadowed}
    assert {r["request_id"] for r in rows} == {"order-1"} and all(r["latency_ms"] >= 0 for r in rows)
    # a version asked by number (or the challenger by name) is served as asked, alone
    assert _predict(api, [0.2], query="?version=1")["version"] == 1
    assert _predict(api, [0.2], query="?version=challenger")["version"] == 2
    assert len(_export(api)) == 6


def test_the_challenger_never_holds_up_the_caller_and_a_full_queue_drops(models: Api) -> None:
    api = models
    threshold_family.GATE.clear()
    try:
        assert _set(api, "shadow", version=4).status_code == 200  # version 4 waits for the gate
        answer = _predict(api, [0.7], request_id="slow-1")  # answered while the challenger is held up
        assert answer["version"] == 1
        queue = api.platform.challengers.queue
        assert queue.pending() == 1
        api.platform.challengers.queue = small = ShadowQueue(capacity=1, threads=1)
        _predict(api, [0.7], request_id="slow-2")  # taken: the new queue's thread is held up by it
        _predict(api, [0.7], request_id="slow-3")  # waits in the queue (capacity 1)
        _predict(api, [0.7], request_id="slow-4")  # dropped, counted
        assert small.dropped == 1
    finally:
        threshold_family.GATE.set()
    assert queue.wait_idle(20) and small.wait_idle(20)
    rows = _export(api)
    shadowed = sorted(r["request_id"] for r in rows if r["source"] == "challenger:shadow")
    assert shadowed == ["slow-1", "slow-2", "slow-3"]
    report = _report(api, query="challenger=4")
    assert report["compared"]["records"] == 3
    assert report["compared"]["unpaired"] == {"champion": 1, "challenger": 0}
    metrics = api.client.get("/metrics", headers=api.headers("metrics")).text
    dropped = 'shopfloor_challenger_requests_total{model="line",outcome="dropped",tenant="default"} 1.0'
    assert dropped in metrics


def test_canary_share_is_respected_and_fixed_per_request_id(models: Api) -> None:
    api = models
    assert _set(api, "canary", version=2, share=0.3).status_code == 200
    served = {f"req-{i}": _predict(api, [0.2], request_id=f"req-{i}")["version"] for i in range(1000)}
    share = sum(v == 2 for v in served.values()) / len(served)
    assert 0.25 < share < 0.35, share
    again = {rid: _predict(api, [0.2], request_id=rid)["version"] for rid in list(served)[:40]}
    assert again == {rid: served[rid] for rid in again}  # a retry lands on the same side
    by_key = {_predict(api, [0.2], request_id=f"other-{i}", key="part-17")["version"] for i in range(20)}
    assert len(by_key) == 1  # one canary key, one side, whatever the request ids
    long_key = {**api.headers("consumer"), "X-Canary-Key": "k" * 300}
    refused = api.client.post(f"/v1/models/{LABEL}/predict", json={"records": [{"x": 1, "asset": "a"}]},
                              headers=long_key)
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["header", "X-Canary-Key"]
    rows = _export(api, query="request_id=req-100")  # sent once
    sources = sorted((r["source"], r["version"]) for r in rows)
    if served["req-100"] == 2:
        assert sources == [("challenger:served", 2), ("champion:shadow", 1)]
    else:
        assert sources == [("challenger:shadow", 2), ("champion:served", 1)]


def _label_traffic(api: Api) -> list[float]:
    """60 requests of one record: 20 below 0, 20 in [0, 0.5) (the two versions disagree), 20 above."""
    xs = [-1.0 + 0.01 * i for i in range(20)] + [0.01 + 0.02 * i for i in range(20)]
    xs += [0.6 + 0.01 * i for i in range(20)]
    for i, x in enumerate(xs):
        _predict(api, [x], request_id=f"lot-{i}")
    return xs


def test_report_agreement_and_metrics_on_feedback_by_request_id(models: Api) -> None:
    api = models
    assert _set(api, "shadow", version=2).status_code == 200
    xs = _label_traffic(api)
    early = _report(api)
    assert early["compared"]["records"] == 60 and early["metrics"]["outcomes"] == 0
    assert early["recommendation"]["promote"] is False and "at least 30" in early["recommendation"]["reason"]
    # the truth: high from 0.5 on, as the challenger (cut 0.5) says; the champion (cut 0) over-calls
    items = [{"request_id": f"lot-{i}", "outcome": "high" if x >= 0.5 else "low"} for i, x in enumerate(xs)]
    sent = _feedback(api, LABEL, items)
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == 120  # one request id: the champion's and the challenger's answer
    found = _report(api)
    assert found["kind"] == "label" and (found["champion"], found["challenger"]) == (1, 2)
    assert found["compared"] == {
        "requests": 60, "records": 60, "served_by_challenger": 0,
        "unpaired": {"champion": 0, "challenger": 0}, "other_versions": 0,
    }
    assert found["agreement"]["measure"] == "same_class"
    assert found["agreement"]["value"] == pytest.approx(40 / 60)
    metrics = found["metrics"]
    assert metrics["headline"] == "f1" and metrics["outcomes"] == 60
    assert metrics["challenger"]["f1"] == pytest.approx(1.0)
    assert metrics["champion"]["f1"] == pytest.approx(2 / 3)  # 20 true alarms, 20 false ones
    assert found["latency_ms"]["champion"]["requests"] == 60 and found["latency_ms"]["challenger"]["p95"] >= 0
    assert found["recommendation"]["promote"] is True
    reason = found["recommendation"]["reason"]
    assert reason.startswith("Promote: the challenger (version 2) scored f1 1 against 0.6667"), reason
    assert sum(w["compared"] for w in found["windows"]) == 60 and found["windows"][-1]["challenger"] == 1.0
    # the champion's own live performance counts the same feedback
    live = api.client.get(f"/v1/models/{LABEL}/performance?window=60&windows=1", headers=api.headers()).json()
    assert live["windows"][0]["outcomes"] == 60
    url = f"/v1/models/{LABEL}/challenger/report/plot?window=15m&windows=8"
    png = api.client.get(url, headers=api.headers("consumer"))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    bad = api.client.get(f"/v1/models/{LABEL}/challenger/report?window=500", headers=api.headers())
    assert bad.status_code == 422  # a count of predictions is no time span


def test_report_of_values_and_of_stream_alarms(models: Api) -> None:
    api = models
    assert _set(api, "shadow", name=VALUE, version=2).status_code == 200
    for i in range(10):
        _predict(api, [float(i), -float(i)], name=VALUE, request_id=f"v-{i}")
    values = _report(api, VALUE)
    assert values["kind"] == "value" and values["compared"]["records"] == 20
    # 1.1 x against x: they differ by 0.1 |x| (|x| = 0..9, twice) and move together
    assert values["agreement"]["value"] == pytest.approx(0.45)
    assert values["agreement"]["values"]["correlation"] == pytest.approx(1.0)
    assert _set(api, "shadow", name=ALARM, version=2).status_code == 200
    headers = api.headers("consumer")
    for i, x in enumerate([0.2, 0.7, 1.2, 0.6]):
        body = {"records": [{"x": x, "asset": "pump-3"}]}
        sent = {**headers, "X-Request-ID": f"s-{i}"}
        scored = api.client.post(f"/v1/models/{ALARM}/score", json=body, headers=sent)
        assert scored.status_code == 200, scored.text
        assert scored.json()["version"] == 1 and scored.json()["results"][0]["points"] == i + 1
    alarms = _report(api, ALARM)
    assert alarms["kind"] == "alarm" and alarms["compared"]["records"] == 4
    # cut 1.0 against cut 0.5: both quiet at 0.2, both alarm at 1.2, the challenger alone at 0.7 and 0.6
    assert alarms["agreement"]["values"] == {
        "alarm_agreement": 0.5, "champion_only": 0, "challenger_only": 2, "both": 1,
    }
    # the challenger kept a stream state of its own, continued in order
    rows = _export(api, ALARM)
    assert [r["answer"]["points"] for r in rows if r["source"] == "challenger:shadow"] == [1, 2, 3, 4]
    assert api.platform.store.list_stream_assets("default", ALARM, 2) == ["pump-3"]


def test_promotion_moves_production_clears_the_mode_and_is_refused_when_stale(models: Api) -> None:
    api = models
    assert _set(api, "shadow", version=2).status_code == 200
    moved = api.client.put(
        f"/v1/models/{LABEL}/aliases/challenger", json={"version": 3}, headers=api.headers("builder")
    )
    assert moved.status_code == 200  # someone picked another challenger after reading the report
    url = f"/v1/models/{LABEL}/challenger/promote"
    stale = api.client.post(url, json={"version": 2}, headers=api.headers("builder"))
    assert stale.status_code == 409 and "now version 3" in stale.json()["detail"]
    assert api.client.post(url, json={"version": 3}, headers=api.headers("consumer")).status_code == 403
    moved = api.client.post(url, json={"version": 3, "champion": 2}, headers=api.headers("builder"))
    assert moved.status_code == 409  # production is version 1, not 2
    assert api.client.get(f"/v1/models/{LABEL}", headers=api.headers()).json()["aliases"]["production"] == 1
    done = api.client.post(url, json={"version": 3, "champion": 1}, headers=api.headers("builder"))
    assert done.status_code == 200, done.text
    assert done.json() == {"model": LABEL, "production": 3, "previous": 1, "mode": "off"}
    state = api.client.get(f"/v1/models/{LABEL}/challenger", headers=api.headers()).json()
    assert (state["mode"], state["champion"], state["challenger"]) == ("off", 3, None)
    assert _predict(api, [0.3])["version"] == 3  # served by the new production at once
    events = api.client.get("/v1/audit?action=challenger.promote", headers=api.headers()).json()["items"]
    outcomes = sorted((e["outcome"], e["detail"]["version"]) for e in events)
    assert outcomes == [("ok", 3), ("refused", 2), ("refused", 3)]


def test_another_tenant_sees_nothing(models: Api) -> None:
    api = models
    assert _set(api, "shadow", version=2).status_code == 200
    other = api.headers("other")
    for method, path, body in [
        ("GET", f"/v1/models/{LABEL}/challenger", None),
        ("PUT", f"/v1/models/{LABEL}/challenger", {"mode": "off"}),
        ("GET", f"/v1/models/{LABEL}/challenger/report", None),
        ("GET", f"/v1/models/{LABEL}/challenger/report/plot", None),
        ("POST", f"/v1/models/{LABEL}/challenger/promote", {"version": 2}),
    ]:
        assert api.client.request(method, path, json=body, headers=other).status_code == 404, path
    assert api.client.get(f"/v1/models/{LABEL}/challenger", headers=api.headers()).json()["mode"] == "shadow"


def test_two_apps_on_one_registry_see_the_mode_change(models: Api) -> None:
    api = models
    platform = Platform.from_settings(api.settings)  # a second server on the same registry and files
    try:
        with TestClient(create_app(api.settings, platform), raise_server_exceptions=False) as client:
            other = SimpleNamespace(client=client, platform=platform, headers=api.headers)
            for found in (api.platform, platform):
                found.generation.max_age_s = 0.0  # read the generation on every request, not 4 times a second
            assert _predict(other, [0.2], request_id="before")["version"] == 1  # caches the mode: off
            assert _set(api, "canary", version=2, share=1.0).status_code == 200  # changed through the first
            assert _predict(other, [0.2], request_id="after")["version"] == 2  # the second sees it at once
            assert _set(other, "off").status_code == 200  # and the other way round
            assert _predict(api, [0.2], request_id="later")["version"] == 1
    finally:
        platform.close()


def test_a_served_side_that_fails_is_a_failed_call_of_its_version(models: Api, monkeypatch: Any) -> None:
    """While the challenger runs, every answer is logged, and so is every failure of the side that
    answers (the error rate of the alert signals counts it); the side run beside it is no call."""
    from datetime import UTC, datetime, timedelta

    from shopfloor.alerting.signals import SignalQuery
    from shopfloor.services import alerts

    api = models
    assert _set(api, "shadow", version=2).status_code == 200
    _predict(api, [0.2], request_id="fine")
    champion = api.platform.models.get("default", LABEL, 1).estimator

    def broken(records: Any) -> Any:
        raise RuntimeError("the champion's library failed")

    monkeypatch.setattr(champion, "predict", broken)
    headers = {**api.headers("consumer"), "X-Request-ID": "broken"}
    body = {"records": [{"x": 0.2, "asset": "a"}]}
    failed = api.client.post(f"/v1/models/{LABEL}/predict", json=body, headers=headers)
    assert failed.status_code == 500
    rows = _export(api)
    assert [(r["request_id"], r["source"], r["version"], r["error"]) for r in rows if r["error"]] == [
        ("broken", "champion:served", 1, {"status": 500, "code": "internal-error"})
    ]
    until = datetime.now(UTC) + timedelta(seconds=60)
    query = SignalQuery("default", LABEL, 1, "error_rate", 600, until)
    assert alerts.signals(api.platform).read(query).value == pytest.approx(1 / 2)
    challenger_side = SignalQuery("default", LABEL, 2, "error_rate", 600, until)
    assert alerts.signals(api.platform).read(challenger_side).value is None  # shadow runs are no calls

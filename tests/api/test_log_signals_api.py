"""The alert signals from the prediction log, read from an app that served a model and took its
outcomes back: drift of the logged inputs, performance estimated and realised, error rate and
latency with failed calls counted (and refused ones not); a drift rule that fires when shifted rows
are served and stays ok on unchanged ones; another tenant reads nothing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.metrics import f1_score

import watched
from alert_fixtures import wait_for
from conftest import Homes
from shopfloor.alerting.signals import SignalQuery
from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.services import alerts, drift_log
from watched import MODEL
from webhook_receiver import Receiver

Api = Any


@pytest.fixture()
def mill(api_with: Any) -> Api:
    return api_with(watched.build)


def _read(api: Api, signal: str, tenant: str = "default", window_s: int = 600, **more: Any) -> float | None:
    """The signal over the last ``window_s`` seconds, read as the evaluator reads it (the window's
    end a minute ahead, so that rounding it down to its step keeps what was just served)."""
    until = datetime.now(UTC) + timedelta(seconds=60)
    query = SignalQuery(tenant, MODEL, 1, signal, window_s, until, **more)
    return alerts.signals(api.platform).read(query).value


def test_estimated_and_realised_metrics_of_the_window(mill: Api) -> None:
    api = mill
    assert _read(api, "estimated_metric", metric="f1") is None  # nothing logged yet
    frame = watched.rows(200, seed=41)
    items = watched.serve(api, frame, "perf")
    estimated = _read(api, "estimated_metric", metric="f1")
    assert _read(api, "realised_metric", metric="f1") is None  # no outcome yet
    watched.feedback(api, items)
    realised = _read(api, "realised_metric", metric="f1")
    # the same 200 predictions as live performance's one window of 200
    path = f"/v1/models/{MODEL}/performance?window=200&windows=1"
    shown = api.client.get(path, headers=api.headers()).json()
    (window,) = shown["windows"]
    assert window["predictions"] == 200 and window["outcomes"] == 200
    assert estimated is not None and estimated == pytest.approx(window["estimated"]["f1"])
    assert realised is not None and realised == pytest.approx(window["realised"]["f1"])
    served = [int(r["answer"]["label"]) for r in _export(api)]
    assert realised == pytest.approx(f1_score([i["outcome"] for i in items], served))
    assert _read(api, "realised_metric", metric="no-such-metric") is None
    assert _read(api, "estimated_metric", metric="f1", tenant="other") is None


def _export(api: Api) -> list[dict[str, Any]]:
    import json

    answer = api.client.get(f"/v1/models/{MODEL}/predictions", headers=api.headers("builder"))
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def _post(api: Api, records: list[dict[str, Any]], request_id: str) -> Any:
    headers = {**api.headers("consumer"), "X-Request-ID": request_id}
    return api.client.post(f"/v1/models/{MODEL}/predict", json={"records": records}, headers=headers)


def test_error_rate_and_latency_count_failed_calls_not_refused_ones(mill: Api, monkeypatch: Any) -> None:
    api = mill
    assert _read(api, "error_rate") is None and _read(api, "latency_p99_ms") is None  # no call yet
    frame = watched.rows(100, seed=51)
    watched.serve(api, frame, "fine")  # two calls
    records = watched.records(frame)[:3]
    estimator = api.platform.models.get("default", MODEL).estimator
    answer = estimator.predict

    def broken(rows: Any) -> Any:
        raise RuntimeError("the model's library failed")

    def refusing(rows: Any) -> Any:
        raise InvalidInput("the model cannot read these rows")

    monkeypatch.setattr(estimator, "predict", broken)
    assert _post(api, records, "crash").status_code == 500
    monkeypatch.setattr(estimator, "predict", refusing)
    assert _post(api, records, "refused-by-model").status_code == 422
    monkeypatch.setattr(estimator, "predict", answer)
    # refused by the input schema: the request never reached the model, so it is no failure of it
    assert _post(api, [{**records[0], "Torque [Nm]": "forty"}], "bad-input").status_code == 422
    assert _post(api, records, "crash").status_code == 200  # retried under its id: answered
    api.platform.prediction_log.flush()

    assert _read(api, "error_rate") == pytest.approx(2 / 5)  # 2 failed of 5 calls to the model
    rows = _export(api)
    failed = [r for r in rows if r["error"] is not None]
    assert [(r["request_id"], r["error"]) for r in failed] == [
        ("crash", {"status": 500, "code": "internal-error"}),
        ("refused-by-model", {"status": 422, "code": "invalid-input"}),
    ]
    assert failed[0]["answer"] is None and failed[0]["inputs"][0]["Torque [Nm]"] == records[0]["Torque [Nm]"]
    latencies = sorted({(r["request_id"], r["at"]): r["latency_ms"] for r in rows}.values())  # one per call
    assert len(latencies) == 5
    assert _read(api, "latency_p99_ms") == pytest.approx(latencies[math.ceil(0.99 * 5) - 1])
    # a failed call answered nothing: its retry is the prediction its id names
    items = [{"request_id": "crash", "index": i, "outcome": 0} for i in range(3)]
    assert api.client.post(
        f"/v1/models/{MODEL}/feedback", json={"items": items}, headers=api.headers("consumer")
    ).status_code == 200
    assert _read(api, "error_rate", tenant="other") is None


def test_drift_score_of_the_logged_inputs(mill: Api, monkeypatch: Any) -> None:
    api = mill
    watched.serve(api, watched.rows(50, seed=61), "few")
    assert _read(api, "drift_score") is None  # 50 logged predictions: too few for a score
    calm = watched.rows(150, seed=62)
    watched.serve(api, calm, "calm")
    shifted = watched.rows(300, seed=63, shifted=True)
    watched.serve(api, shifted, "worn")
    everything = [watched.records(f) for f in (watched.rows(50, seed=61), calm, shifted)]
    checks = []
    real = drift_log.frame_drift
    monkeypatch.setattr(drift_log, "frame_drift", lambda *a, **k: checks.append(1) or real(*a, **k))
    score = _read(api, "drift_score")
    worn = _read(api, "drift_score", input="Tool wear [min]")
    torque = _read(api, "drift_score", input="Torque [Nm]")
    assert len(checks) == 1  # one window, checked once for every input's score
    body = {"records": [r for part in everything for r in part]}
    direct = api.client.post(f"/v1/models/{MODEL}/drift", json=body, headers=api.headers("consumer")).json()
    distances = {f["name"]: f["distance"] for f in direct["inputs"]}
    assert score == pytest.approx(max(distances.values()))
    assert worn == pytest.approx(distances["Tool wear [min]"])
    assert worn is not None and torque is not None and worn > 0.2 > torque
    assert _read(api, "drift_score", input="no such input") is None
    assert _read(api, "drift_score", tenant="other") is None
    watched.serve(api, watched.rows(1, seed=64), "one-more")
    assert _read(api, "drift_score") is not None and len(checks) == 2  # the window changed: checked anew


def test_another_host_reads_the_same_values(mill: Api) -> None:
    """A second process on the same registry (another host) has served nothing and cached nothing:
    it reads every signal from what the hosts share, to the same value."""
    api = mill
    items = watched.serve(api, watched.rows(150, seed=91), "here")
    watched.feedback(api, items)
    until = datetime.now(UTC) + timedelta(seconds=60)
    elsewhere = Platform.from_settings(api.settings)
    try:
        for signal, more in [
            ("drift_score", {}), ("drift_score", {"input": "Torque [Nm]"}),
            ("estimated_metric", {"metric": "f1"}), ("realised_metric", {"metric": "f1"}),
            ("error_rate", {}), ("latency_p99_ms", {}),
        ]:
            query = SignalQuery("default", MODEL, 1, signal, 600, until, **more)
            here, there = (alerts.signals(p).read(query) for p in (api.platform, elsewhere))
            assert here.value is not None and here == there, (signal, here, there)
    finally:
        elsewhere.close()


@pytest.fixture()
def watching(homes: Homes, tmp_path: Path) -> Iterator[Api]:
    """``mill`` on an app whose alert task evaluates every 0.2 s and may send webhooks to 127.0.0.1."""
    yield from homes.open_copy(
        watched.build, tmp_path / "home",
        alert_eval_interval_s=0.2, alert_delivery_poll_s=0.05, webhook_allowed_networks=["127.0.0.1/32"],
        webhook_backoff_s=0.01, webhook_timeout_s=2.0,
    )


def test_a_drift_rule_fires_when_shifted_rows_are_served_not_on_unchanged_ones(
    watching: Api, receiver: Receiver
) -> None:
    api = watching
    rule = {
        "name": "mill-drift", "model": MODEL, "signal": "drift_score", "comparison": ">", "bound": 0.15,
        "window_s": 60, "targets": [receiver.url()],
    }
    made = api.client.post("/v1/alerts/rules", json=rule, headers=api.headers("builder"))
    assert made.status_code == 201, made.text

    def state() -> dict[str, Any]:
        (found,) = alerts.states(api.platform, "default")
        return found

    watched.serve(api, watched.rows(500, seed=71), "calm")
    first = wait_for(lambda: (s := state())["value"] is not None and s, timeout_s=30)
    seen = first["evaluated_at"]
    wait_for(lambda: state()["evaluated_at"] > seen + timedelta(seconds=1))  # evaluated again and again
    calm = state()
    assert calm["state"] == "ok" and calm["value"] < 0.15 and receiver.received == [], calm

    watched.serve(api, watched.rows(1000, seed=72, shifted=True), "worn")
    fired = wait_for(lambda: (s := state())["state"] == "firing" and s, timeout_s=30)
    assert fired["value"] > 0.15 and fired["version"] == 1
    wait_for(lambda: receiver.received)
    body = receiver.received[0].body
    assert b'"event":"firing"' in body and b'"signal":"drift_score"' in body

    scraped = api.client.get("/metrics", headers=api.headers("metrics")).text
    gauges = [
        s for family in text_string_to_metric_families(scraped) for s in family.samples
        if s.name == "shopfloor_model_drift_score"
    ]
    assert [(g.labels["model"], g.labels["input"], g.labels["window"]) for g in gauges] == [(MODEL, "", "1m")]
    assert gauges[0].value > 0.15

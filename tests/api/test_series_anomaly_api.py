"""One stream through the API: a CSV with a timestamp and a value (no asset column) is uploaded,
trained on (messy time repaired, reported), scored whole, as a batch job, and one point per
``POST .../score`` call, which gives what batch scoring of the same points gives."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import Api, open_api
from shopfloor.security.limits import limiter
from shopfloor.settings import Settings

MODEL = "line-power"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = Settings(home=tmp_path_factory.mktemp("series") / "home", default_time_budget_s=10)
    yield from open_api(settings)


def _power(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    times = pd.date_range("2024-06-01", periods=n, freq="10min")
    value = 50 + 5 * np.sin(2 * np.pi * np.arange(n) / 144) + rng.normal(0, 0.5, n)
    return pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "power_kw": value.round(3)})


@pytest.fixture(scope="module")
def version(api: Api) -> int:
    history = _power()
    messy = pd.concat([history, history.iloc[[10, 11]]]).drop(index=range(40, 44))  # repeats and a gap
    messy = messy.iloc[np.r_[1, 0, 2 : len(messy)]]  # two rows out of order
    builder = api.headers("builder")
    up = api.client.post(
        "/v1/datasets",
        files={"file": ("power.csv", messy.to_csv(index=False).encode(), "text/csv")},
        data={"name": "power"},
        headers=builder,
    )
    assert up.status_code == 201, up.text
    body = {"type": "train", "task": "series_anomaly", "dataset_id": up.json()["id"], "model_name": MODEL}
    job = api.client.post("/v1/jobs", json={**body, "options": {"sensitivity": 85}}, headers=builder)
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=builder).json()
    assert done["status"] == "succeeded", done
    model = api.client.get(f"/v1/models/{MODEL}/versions/{done['result']['version']}", headers=builder)
    assert model.status_code == 200, model.text
    repairs = model.json()["report"]["repairs"]
    assert (
        repairs["duplicate_rows_merged"] == 2 and repairs["out_of_order_rows"] == 3
    )  # the swap and the two repeats at the end
    assert repairs["gaps"] == 1 and repairs["gap_points_filled"] == 4
    number = int(done["result"]["version"])
    promoted = api.client.put(
        f"/v1/models/{MODEL}/aliases/production", json={"version": number}, headers=api.headers("admin")
    )
    assert promoted.status_code == 200, promoted.text
    return number


def _later(n: int = 40) -> pd.DataFrame:
    later = _power(340).tail(n).reset_index(drop=True)
    later.loc[25, "power_kw"] += 12
    return later


def test_a_model_without_asset_column_predicts_each_point_with_band_and_events(
    api: Api, version: int
) -> None:
    records = _later().to_dict("records")
    answer = api.client.post(
        f"/v1/models/{MODEL}/predict", json={"records": records}, headers=api.headers("consumer")
    )
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["predictions"]
    points = result["points"]
    assert len(points) == len(records) and points[25]["is_anomaly"] and points[25]["score"] > 0.5
    assert {"expected", "lower", "upper", "severity"} <= set(points[0])
    assert any(e["start"] == records[25]["timestamp"] for e in result["events"])


def test_stream_one_point_per_call_matches_batch(api: Api, version: int) -> None:
    later = _later()
    consumer = api.headers("consumer")
    streamed = []
    for record in later.to_dict("records"):
        answer = api.client.post(f"/v1/models/{MODEL}/score", json={"records": [record]}, headers=consumer)
        assert answer.status_code == 200, answer.text
        streamed += answer.json()["results"][0]["points"]
    builder = api.headers("builder")
    batch = api.client.post(
        f"/v1/models/{MODEL}/batch",
        files={"file": ("later.csv", later.to_csv(index=False).encode(), "text/csv")},
        headers=builder,
    )
    assert batch.status_code == 202, batch.text
    api.run_jobs()
    scored = pd.read_csv(
        io.BytesIO(api.client.get(f"/v1/jobs/{batch.json()['id']}/result", headers=builder).content)
    )
    assert [p["score"] for p in streamed] == pytest.approx(scored["anomaly_score"].tolist())
    assert [p["is_anomaly"] for p in streamed] == scored["is_anomaly"].tolist()
    assert [p["expected"] for p in streamed] == pytest.approx(scored["expected"].tolist())
    reset = api.client.delete(f"/v1/models/{MODEL}/score/state", headers=consumer)
    assert reset.status_code == 200 and reset.json()["dropped"] == 1


def test_a_time_column_without_any_date_is_refused_naming_it(api: Api) -> None:
    frame = pd.DataFrame({"when": ["later"] * 30, "v": np.arange(30.0)})
    up = api.client.post(
        "/v1/datasets",
        files={"file": ("bad.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": "bad"},
        headers=api.headers("builder"),
    )
    assert up.status_code == 201, up.text
    body = {
        "type": "train",
        "task": "series_anomaly",
        "dataset_id": up.json()["id"],
        "model_name": "bad",
        "options": {"time_column": "when"},
    }
    job = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert job.status_code == 422, job.text
    assert "'when'" in job.json()["detail"]


def test_a_stream_call_waiting_on_the_registry_write_lock_leaves_the_server_answering(
    api: Api, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds SQLite's write lock: the stream call does not wait for it on the event
    loop (its write there declines at once) but on a thread, up to the driver's busy timeout, while
    the event loop keeps answering other requests; it then completes."""
    store = api.platform.store
    entered = threading.Event()
    update, swap = store.update_stream_states, store.swap_stream_states

    def noted_update(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        return update(*args, **kwargs)

    def noted_swap(*args: Any, wait: bool = True, **kwargs: Any) -> Any:
        if wait:  # the waiting path: on a registry thread
            entered.set()
        return swap(*args, wait=wait, **kwargs)

    record = _later().to_dict("records")[0]
    url, consumer = f"/v1/models/{MODEL}/score", api.headers("consumer")
    warm = api.client.post(url, json={"records": [record]}, headers=consumer)  # model loaded, state held
    assert warm.status_code == 200, warm.text
    # the rate leases have tokens left: what waits on the lock below is the stream's write only
    monkeypatch.setattr(limiter(api.platform).rates, "take", lambda leases: None)
    holder = sqlite3.connect(store.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as a job or another API process writing would hold it
    store.update_stream_states = noted_update  # type: ignore[method-assign]
    store.swap_stream_states = noted_swap  # type: ignore[method-assign]
    try:
        streamed: list[Any] = []
        stream = threading.Thread(
            target=lambda: streamed.append(api.client.post(url, json={"records": [record]}, headers=consumer))
        )
        stream.start()
        assert entered.wait(30)
        time.sleep(0.2)  # inside BEGIN IMMEDIATE, waiting for the lock
        health: list[Any] = []
        asking = threading.Thread(target=lambda: health.append(api.client.get("/healthz")))
        asking.start()
        asking.join(10)
        answered_while_locked = bool(health) and not streamed
    finally:
        holder.rollback()
        holder.close()
        del store.update_stream_states
        del store.swap_stream_states
    stream.join(30)
    asking.join(30)
    assert answered_while_locked, "the event loop was blocked by a stream call waiting on the registry"
    assert health[0].status_code == 200
    assert streamed and streamed[0].status_code == 200, streamed
    api.client.delete(f"/v1/models/{MODEL}/score/state", headers=consumer)


def test_streamed_scores_are_logged_and_take_alarm_feedback(api: Api, version: int) -> None:
    """Stream scoring is logged like predict (source ``score``); its outcomes are true/false alarms."""
    builder, consumer = api.headers("builder"), api.headers("consumer")
    rate = f"/v1/models/{MODEL}/prediction-log"
    assert api.client.put(rate, json={"rate": 1}, headers=builder).status_code == 200
    try:
        for i, record in enumerate(_later().head(6).to_dict("records")):
            headers = {**consumer, "X-Request-ID": f"tick-{i}"}
            scored = api.client.post(f"/v1/models/{MODEL}/score", json={"records": [record]}, headers=headers)
            assert scored.status_code == 200
        api.platform.prediction_log.flush()
        lines = api.client.get(f"/v1/models/{MODEL}/predictions", headers=builder).text.splitlines()
        rows = [r for r in map(json.loads, lines) if r["source"] == "score"]
        assert [r["request_id"] for r in rows] == [f"tick-{i}" for i in range(6)]
        assert set(rows[0]["inputs"]) == {"timestamp", "power_kw"} and "events" in rows[0]["answer"]
        path = f"/v1/models/{MODEL}/feedback"
        one = {"items": [{"request_id": "tick-0", "outcome": 1}]}
        wrong = api.client.post(path, json=one, headers=consumer)
        assert wrong.status_code == 422 and "true" in wrong.json()["errors"][0]["msg"]
        items = [{"request_id": f"tick-{i}", "outcome": i == 5} for i in range(6)]
        assert api.client.post(path, json={"items": items}, headers=consumer).status_code == 200
        performance = f"/v1/models/{MODEL}/performance?window=10&windows=1"
        found = api.client.get(performance, headers=consumer).json()
        assert found["kind"] == "alarm" and found["metrics"] == ["alarm_precision", "alarm_recall"]
        assert found["windows"][0]["outcomes"] == 6 and found["estimation"]["available"] is False
    finally:
        api.client.put(rate, json={"rate": 0}, headers=builder)

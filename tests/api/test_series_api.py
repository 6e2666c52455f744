"""Sensor task families through the API: rul and anomaly trained as jobs, served per asset,
streamed, batch-scored; and every bad history refused with its place, nothing stored."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import Api, another_app
from shopfloor.registry.entities import Swap

SENSORS = ["temp", "pressure", "vib"]


def _histories(units: int, *, wear: bool, seed: int = 0) -> pd.DataFrame:
    """Assets run to failure (temperature and pressure rise with wear) or held steady."""
    rng = np.random.default_rng(seed)
    parts = []
    for unit in range(units):
        n = 50 + 5 * unit
        life = np.arange(n) / n
        w = life**2 if wear else np.zeros(n)
        common = rng.normal(size=n)
        parts.append(
            pd.DataFrame(
                {
                    "unit": unit + 1,
                    "cycle": np.arange(1, n + 1),
                    "temp": 600 + 8 * w + common + 0.2 * rng.normal(size=n),
                    "pressure": 40 + 3 * w + 0.5 * common + 0.1 * rng.normal(size=n),
                    "vib": 0.5 * rng.normal(size=n),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _upload(api: Api, frame: pd.DataFrame, name: str, **form: str) -> Any:
    return api.client.post(
        "/v1/datasets",
        files={"file": (f"{name}.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": name, **form},
        headers=api.headers("builder"),
    )


def _train(api: Api, dataset_id: str, task: str, model: str, **more: Any) -> Any:
    body = {"task": task, "dataset_id": dataset_id, "model_name": model, **more}
    return api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))


def _trained(api: Api, frame: pd.DataFrame, task: str, model: str, options: dict[str, Any]) -> None:
    ds = _upload(api, frame, model, asset_column="unit", time_column="cycle")
    assert ds.status_code == 201, ds.text
    job = _train(api, ds.json()["id"], task, model, options=options, time_budget_s=60)
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    promoted = api.client.put(
        f"/v1/models/{model}/aliases/production", json={"version": 1}, headers=api.headers("builder")
    )
    assert promoted.status_code == 200


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]


def _train_pumps(api: Api) -> None:
    _trained(api, _histories(10, wear=True), "rul", "pumps", {"max_epochs": 2})


@pytest.fixture
def pumps(api_with: Any) -> Api:
    """The rul model "pumps" in production, trained once per run; each test has its own copy."""
    return api_with(_train_pumps)


def test_rul_trains_serves_per_asset_with_intervals_and_sensor_contributions(pumps: Api) -> None:
    api = pumps
    h = api.headers("consumer")
    version = api.client.get("/v1/models/pumps/versions/1", headers=h).json()
    assert {"rmse", "mae", "phm08_score", "coverage_80"} <= set(version["metrics"])
    assert version["report"]["series"]["asset"] == "unit"
    history = _histories(3, wear=True, seed=5)
    history = history[history["cycle"] <= 15]  # 45 records: the test server's limit is 50
    answer = api.client.post("/v1/models/pumps/predict", json={"records": _records(history)}, headers=h)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert [p["asset"] for p in predictions] == [1, 2, 3]
    for p in predictions:
        lo80, hi80 = p["interval_80"]
        lo95, hi95 = p["interval_95"]
        assert 0 <= lo95 <= lo80 <= p["rul"] <= hi80 <= hi95
    explained = api.client.post("/v1/models/pumps/explain", json={"records": _records(history)}, headers=h)
    assert explained.status_code == 200, explained.text
    assert set(explained.json()["explanations"][0]["contributions"]) <= set(SENSORS)


def test_rul_refuses_bad_histories_with_their_place(pumps: Api) -> None:
    api = pumps
    h = api.headers("consumer")
    good = _histories(2, wear=True, seed=3)
    good = good[good["cycle"] <= 20]

    def predict(frame: pd.DataFrame | list[dict[str, Any]]) -> Any:
        records = frame if isinstance(frame, list) else _records(frame)
        return api.client.post("/v1/models/pumps/predict", json={"records": records}, headers=h)

    unsorted = good.copy()
    unsorted.iloc[[3, 4]] = unsorted.iloc[[4, 3]].to_numpy()
    duplicated = good.copy()
    duplicated.loc[duplicated.index[5], "cycle"] = duplicated.loc[duplicated.index[4], "cycle"]
    no_sensor = [{k: v for k, v in r.items() if k != "vib"} for r in _records(good)]
    text = _records(good)
    text[7]["temp"] = "hot"
    short = good[good["cycle"] <= 1]
    cases = {
        "time not increasing": (predict(unsorted), ["body", "records", 4, "cycle"]),
        "duplicated time": (predict(duplicated), ["body", "records", 5, "cycle"]),
        "sensor entirely missing": (predict(no_sensor), None),
        "not a number": (predict(text), ["body", "records", 7, "temp"]),
        "too short": (predict(short), None),
    }
    for case, (response, loc) in cases.items():
        assert response.status_code == 422, (case, response.text)
        problem = response.json()
        assert problem["errors"], case
        if loc is not None:
            assert problem["errors"][0]["loc"] == loc, (case, problem)
    assert "vib" in cases["sensor entirely missing"][0].json()["detail"]


def test_training_refusals_store_no_job(api: Api) -> None:
    b = api.headers("builder")
    single = _upload(api, _histories(1, wear=True), "one", asset_column="unit", time_column="cycle").json()
    many = _upload(api, _histories(4, wear=True), "many", asset_column="unit", time_column="cycle").json()
    plain = _upload(api, _histories(4, wear=True), "plain").json()
    cases = {
        "single asset": (_train(api, single["id"], "anomaly", "m"), ["dataset", "column", "unit"]),
        "too few assets for rul": (_train(api, many["id"], "rul", "m"), ["dataset", "column", "unit"]),
        "target given": (_train(api, many["id"], "anomaly", "m", target="temp"), ["body", "target"]),
        "unknown option": (_train(api, many["id"], "anomaly", "m", options={"nope": 1}), ["body", "options"]),
        "option out of range": (
            _train(api, many["id"], "anomaly", "m", options={"false_alarm_rate": 2}),
            ["body", "options", "false_alarm_rate"],
        ),
        "no asset column": (_train(api, plain["id"], "anomaly", "m"), ["body", "asset_column"]),
        "unknown time column": (
            _train(api, plain["id"], "anomaly", "m", asset_column="unit", time_column="t"),
            ["body", "time_column"],
        ),
        "options on tabular": (
            _train(api, many["id"], "tabular_regression", "m", target="temp", options={"cap": 1}),
            ["body", "options"],
        ),
    }
    for case, (response, loc) in cases.items():
        assert response.status_code == 422, (case, response.text)
        assert response.json()["errors"][0]["loc"] == loc, (case, response.json())
    assert api.client.get("/v1/jobs", headers=b).json()["items"] == []


def _train_press(api: Api) -> None:
    _trained(api, _histories(8, wear=False), "anomaly", "press", {})


@pytest.fixture
def detector(api_with: Any) -> Api:
    """The anomaly model "press" in production, trained once per run; each test has its own copy."""
    return api_with(_train_press)


def _faulty(seed: int) -> pd.DataFrame:
    """One steady asset whose vibration jumps from cycle 40 on (48 points: under the request limit)."""
    frame = _histories(2, wear=False, seed=seed)
    frame = frame[(frame["unit"] == 2) & (frame["cycle"] <= 48)].copy()
    frame.loc[frame["cycle"] >= 40, "vib"] += 6.0
    return frame


@pytest.mark.backends("sqlite", "postgresql")  # stream state lives in the registry
def test_streaming_scores_match_one_call_and_keep_state_per_asset(detector: Api) -> None:
    api = detector
    h = api.headers("consumer")
    frame = _faulty(11)
    whole = api.client.post("/v1/models/press/predict", json={"records": _records(frame)}, headers=h)
    assert whole.status_code == 200, whole.text
    expected = whole.json()["predictions"][0]
    assert expected["events"], "the injected fault raises an event"
    shares = expected["events"][0]["contributions"]
    assert max(shares, key=shares.get) == "vib"
    scores: list[float] = []
    for start in range(0, len(frame), 9):
        part = api.client.post(
            "/v1/models/press/score", json={"records": _records(frame.iloc[start : start + 9])}, headers=h
        )
        assert part.status_code == 200, part.text
        scores += [p["score"] for p in part.json()["results"][0]["points"]]
    assert np.allclose(scores, [p["score"] for p in expected["points"]])
    again = api.client.post("/v1/models/press/score", json={"records": _records(frame.iloc[:3])}, headers=h)
    assert again.status_code == 422, again.text  # points already scored for this asset
    assert again.json()["errors"][0]["loc"][:3] == ["body", "records", 0]
    reset = api.client.delete("/v1/models/press/score/state", params={"asset": "2"}, headers=h)
    assert reset.status_code == 200 and reset.json()["dropped"] == 1
    fresh = api.client.post("/v1/models/press/score", json={"records": _records(frame.iloc[:3])}, headers=h)
    assert fresh.status_code == 200


@pytest.mark.backends("sqlite", "postgresql")
def test_several_assets_per_call_through_two_processes_score_as_through_one(
    detector: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call holds points of two assets: a process continues both from what it wrote last only if
    neither moved on meanwhile (one swap for both), else both from the registry."""
    store = detector.platform.store
    swap, swapped = store.swap_stream_states, []

    def noted(*args: Any, **kwargs: Any) -> Swap:
        swapped.append(swap(*args, **kwargs))
        return swapped[-1]

    monkeypatch.setattr(store, "swap_stream_states", noted)
    frame = _faulty(11)
    frame = pd.concat([frame, _faulty(13).assign(unit=3)]).sort_values(["cycle", "unit"])
    calls = [_records(frame.iloc[i : i + 6]) for i in range(0, len(frame), 6)]  # 3 cycles of both

    def score(api: Api, records: list[dict[str, Any]]) -> Any:
        answer = api.client.post("/v1/models/press/score", json={"records": records}, headers=api.headers())
        assert answer.status_code == 200, answer.text
        assert [r["asset"] for r in answer.json()["results"]] == [2, 3]
        return answer.json()["results"]

    def reset(api: Api) -> None:
        assert api.client.delete("/v1/models/press/score/state", headers=api.headers()).status_code == 200

    alone = [score(detector, c) for c in calls]
    reset(detector)
    for other in another_app(detector):
        apps = (detector, other)
        order = [0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0]
        got = [score(apps[i], c) for i, c in zip(order, calls, strict=True)]
        assert got == alone
        reset(other)
    assert Swap.DONE in swapped and Swap.STALE in swapped


def test_batch_scoring_evaluates_against_known_events(detector: Api) -> None:
    api = detector
    frame = _faulty(12)
    frame["known_event"] = (frame["cycle"] >= 40).astype(int)
    job = api.client.post(
        "/v1/models/press/batch",
        params={"label_column": "known_event"},
        files={"file": ("lines.csv", frame.to_csv(index=False).encode(), "text/csv")},
        headers=api.headers("builder"),
    )
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    evaluation = done["result"]["evaluation"]
    assert evaluation["recall"] == 1.0
    result = api.client.get(f"/v1/jobs/{job.json()['id']}/result", headers=api.headers("builder"))
    scored = pd.read_csv(io.BytesIO(result.content))
    assert len(scored) == len(frame) and "anomaly_score" in scored.columns
    wrong = api.client.post(
        "/v1/models/press/batch",
        params={"label_column": "nope"},
        files={"file": ("lines.csv", frame.to_csv(index=False).encode(), "text/csv")},
        headers=api.headers("builder"),
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["loc"] == ["query", "label_column"]


def test_score_is_only_for_anomaly_models(pumps: Api) -> None:
    api = pumps
    frame = _histories(1, wear=True)
    response = api.client.post(
        "/v1/models/pumps/score", json={"records": _records(frame)}, headers=api.headers("consumer")
    )
    assert response.status_code == 422 and "anomaly" in response.json()["detail"]

"""Retraining every trainable family through the API: its datasets combined its own way, the gate
comparing both versions on the family's own held-out examples and figure, or saying why it cannot.

One small model per family (the zoo's data, smallest budgets), retrained on new data; one test per
group of families that learn from the same kind of data."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from signal_data import ORDERS, RATE, recordings_zip
from zoo import histories, orders, part_png, sensor_stream, weekly_sales

Api = Any
SERIES = {"asset_column": "unit", "time_column": "cycle"}
SIGNALS = {"window": 1024, "defect_orders": ORDERS}


def _upload(api: Api, name: str, content: bytes, filename: str, **form: str) -> str:
    answer = api.client.post(
        "/v1/datasets", files={"file": (filename, content, "text/csv")}, data={"name": name, **form},
        headers=api.headers("builder"),
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _parts(good: int, scratched: int, seed: int) -> bytes:
    """A zip of part images labelled by ``labels.csv`` (one folder of good parts alone would be
    read as unlabelled)."""
    rng = np.random.default_rng(seed)
    out, lines = io.BytesIO(), ["filename,label"]
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(good + scratched):
            label = "good" if i < good else "scratch"
            archive.writestr(f"p{i}.png", part_png(rng, label == "scratch"))
            lines.append(f"p{i}.png,{label}")
        archive.writestr("labels.csv", "\n".join(lines) + "\n")
    return out.getvalue()


def _later(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    """The stream ``days`` later (a stretch that follows the original one)."""
    times = pd.to_datetime(frame["timestamp"]) + pd.Timedelta(days=days)
    return frame.assign(timestamp=times.dt.strftime("%Y-%m-%d %H:%M:%S"))


def _train(api: Api, **body: Any) -> None:
    answer = api.client.post("/v1/jobs", json={"type": "train", **body}, headers=api.headers("builder"))
    assert answer.status_code == 202, answer.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{answer.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done


def _build(api: Api) -> dict[str, str]:
    """Version 1 (production) of a model of every family but the tabular ones; the new datasets."""
    images = _upload(api, "parts", _parts(12, 8, seed=0), "parts.zip", format="images")
    bearings = _upload(api, "bearings", recordings_zip(3, seed=0), "b.zip", sampling_rate=str(RATE))
    stream = sensor_stream(300, seed=0)
    for body in (
        {"task": "rul", "model_name": "pumps", "time_budget_s": 8, "options": {"candidates": ["lightgbm"]},
         "dataset_id": _upload(api, "pumps", _csv(histories(6, wear=True)), "p.csv", **SERIES)},
        {"task": "anomaly", "model_name": "press", "time_budget_s": 10,
         "dataset_id": _upload(api, "press", _csv(histories(3, wear=False)), "a.csv", **SERIES)},
        {"task": "text_classification", "model_name": "orders", "target": "system",
         "options": {"candidates": ["tfidf"]}, "dataset_id": _upload(api, "orders", _csv(orders()), "o.csv")},
        {"task": "image_classification", "model_name": "inspect", "dataset_id": images, "target": "label",
         "options": {"size": 32, "max_epochs": 1, "patience": 1, "stability_seeds": 0}},
        {"task": "image_anomaly", "model_name": "parts", "dataset_id": images,
         "options": {"label_column": "label", "good_label": "good", "size": 32, "memory_size": 100}},
        {"task": "signal_classification", "model_name": "bearing", "dataset_id": bearings, "target": "label",
         "time_budget_s": 15, "options": {**SIGNALS, "candidates": ["logistic"]}},
        {"task": "signal_anomaly", "model_name": "bearing-health", "dataset_id": bearings,
         "time_budget_s": 15, "options": {**SIGNALS, "normal_label": "normal"}},
        {"task": "series_anomaly", "model_name": "boiler", "options": {"sensitivity": 80},
         "dataset_id": _upload(api, "boiler", _csv(stream), "s.csv")},
        {"task": "forecast", "model_name": "demand", "time_budget_s": 20,
         "options": {"horizon": 3, "candidates": ["theta"]},
         "dataset_id": _upload(api, "sales", weekly_sales(6, 30), "w.csv", layout="wide")},
    ):  # fmt: skip
        _train(api, **body)
    for model in ("pumps", "press", "orders", "inspect", "parts", "bearing", "bearing-health", "boiler"):
        api.client.put(f"/v1/models/{model}/aliases/production", json={"version": 1}, headers=api.headers())
    api.client.put("/v1/models/demand/aliases/production", json={"version": 1}, headers=api.headers())
    return {
        "pumps": _upload(api, "pumps-new", _csv(histories(6, wear=True, seed=9)), "p2.csv", **SERIES),
        "press": _upload(api, "press-new", _csv(histories(3, wear=False, seed=8)), "a2.csv", **SERIES),
        "orders": _upload(api, "orders-new", _csv(orders(45)), "o2.csv"),
        "images": _upload(api, "parts-new", _parts(12, 8, seed=5), "parts2.zip"),  # format auto: images
        "good images": _upload(api, "parts-good", _parts(14, 0, seed=6), "parts3.zip", format="images"),
        "bearings": _upload(api, "new", recordings_zip(3, seed=7), "b2.zip", sampling_rate=str(RATE)),
        "stream later": _upload(api, "boiler-later", _csv(_later(stream, 3)), "s2.csv"),
        "stream again": _upload(api, "boiler-again", _csv(_later(stream, 1)), "s3.csv"),
        "sales": _upload(api, "sales-36", weekly_sales(6, 36), "w2.csv", layout="wide"),
    }


def _retrain(api: Api, model: str, **body: Any) -> Any:
    return api.client.post(f"/v1/models/{model}/retrain", json=body, headers=api.headers("builder"))


def _gate(api: Api, model: str, **body: Any) -> dict[str, Any]:
    """Retrain ``model``; the gate of the new version (the job succeeded, the version has it)."""
    queued = _retrain(api, model, **body)
    assert queued.status_code == 202, queued.text
    api.run_jobs()
    job = api.client.get(f"/v1/jobs/{queued.json()['id']}", headers=api.headers("builder")).json()
    assert job["status"] == "succeeded", job["error"]
    gate = job["result"]["gate"]
    number = job["result"]["version"]
    version = api.client.get(f"/v1/models/{model}/versions/{number}", headers=api.headers("builder")).json()
    assert version["report"]["gate"] == gate and job["result"]["champion"] == 1
    assert isinstance(gate["passed"], bool) and gate["summary"].startswith("Gate ")
    return dict(gate)


def _held(gate: dict[str, Any], metric: str, unit: str) -> dict[str, Any]:
    held = gate["checks"]["held_out"]
    assert held["comparable"] is True and gate["metric"] == held["metric"] == metric, gate
    assert held["unit"] == unit and held["rows"] > 0, held
    assert held["challenger"] is not None and held["champion"] is not None, held
    assert metric in held["figures"]["challenger"] and metric in held["figures"]["champion"]
    assert f"On {held['rows']} " in held["message"] and f"{metric} is " in held["message"]
    return dict(held)


def _lineage(api: Api, model: str, version: int) -> dict[str, Any]:
    found = api.client.get(f"/v1/models/{model}/versions/{version}", headers=api.headers("builder")).json()
    return dict(found["lineage"])


def test_sensor_histories_compare_on_new_assets_kept_apart_from_the_old(api_with: Any) -> None:
    api = api_with(_build)
    data, original = api.made, _lineage(api, "pumps", 1)["dataset_id"]
    gate = _gate(api, "pumps", dataset_ids=[original, data["pumps"]])
    held = _held(gate, "rmse", "assets")
    # both datasets number their assets 1..6: kept apart, the six old ones are left out
    assert (held["rows"], held["left_out"]) == (6, 6) and gate["greater_is_better"] is False
    assert "fold models fitted without that asset" in held["message"]
    assert len(_lineage(api, "pumps", 2)["datasets"]) == 2
    gate = _gate(api, "press", dataset_id=data["press"])
    held = _held(gate, "detection_minus_false_alarms", "assets")
    assert "synthetic faults were injected" in held["message"] and held["left_out"] == 0
    assert {"fault_detection_rate", "false_alarm_rate"} <= set(held["figures"]["champion"])


def test_texts_and_images_compare_on_held_out_rows_or_say_why_not(api_with: Any) -> None:
    api = api_with(_build)
    data = api.made
    _held(_gate(api, "orders", dataset_id=data["orders"]), "f1", "rows")
    _held(_gate(api, "inspect", dataset_id=data["images"]), "accuracy", "images")
    held = _held(_gate(api, "parts", dataset_id=data["images"]), "auroc", "images")
    assert "labelled defects" in held["message"]
    # good parts only: nothing to separate, so no comparable figure and no pass
    queued = _retrain(api, "parts", dataset_id=data["good images"], promote="if_gate_passes").json()
    api.run_jobs()
    job = api.client.get(f"/v1/jobs/{queued['id']}", headers=api.headers("builder")).json()
    assert job["status"] == "succeeded", job["error"]
    gate = job["result"]["gate"]
    held = gate["checks"]["held_out"]
    assert gate["passed"] is False and held["comparable"] is False
    assert "no labelled defect image" in held["message"]
    assert held["message"] in gate["summary"] and job["result"]["promotion"]["promoted"] is False
    refused = api.client.post("/v1/models/parts/promote", json={"version": 3}, headers=api.headers("builder"))
    assert refused.status_code == 409


def test_recordings_compare_recording_by_recording(api_with: Any) -> None:
    api = api_with(_build)
    data = api.made
    held = _held(_gate(api, "bearing", dataset_id=data["bearings"]), "accuracy", "recordings")
    assert held["rows"] == 9 and "window by window" in held["message"]
    gate = _gate(api, "bearing-health", dataset_id=data["bearings"])
    held = _held(gate, "detection_minus_false_alarms", "recordings")
    assert "3 healthy recordings" in held["message"]
    assert "6 recordings labelled other than 'normal'" in held["message"]


def test_streams_and_forecasts_compare_on_what_followed(api_with: Any) -> None:
    api = api_with(_build)
    data = api.made
    boiler = _lineage(api, "boiler", 1)["dataset_id"]
    overlapping = _retrain(api, "boiler", dataset_ids=[boiler, data["stream again"]])
    assert overlapping.status_code == 422 and "overlap in time" in overlapping.json()["detail"]
    assert overlapping.json()["errors"][0]["loc"][:3] == ["body", "dataset_ids", 1]
    gate = _gate(api, "boiler", dataset_ids=[boiler, data["stream later"]])
    held = gate["checks"]["held_out"]
    assert held["unit"] == "stretches" and held["metric"] == "detection_minus_false_alarms", held
    assert held["left_out"] == 0 and "warm up on the first 60 %" in held["message"]
    demand = _lineage(api, "demand", 1)["dataset_id"]
    twice = _retrain(api, "demand", dataset_ids=[demand, data["sales"]])
    assert twice.status_code == 422 and "both give series 'P0' at period" in twice.json()["detail"]
    held = _held(_gate(api, "demand", dataset_id=data["sales"]), "mase", "series")
    assert held["rows"] == 6 and "18 periods in all" in held["message"]

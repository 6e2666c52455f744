"""One recording set through the API: a zip of recordings uploaded, signal_classification trained,
predicted and explained; signal_anomaly scoring windows as a stream."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from conftest import Api
from signal_data import ORDERS, RATE, record, recordings, waveform


def _zip() -> bytes:
    frame = recordings(per_class=4)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        lines = ["file,label,group,rpm"]
        for name, x, label, group, rpm in frame[["recording", "signal", "label", "group", "rpm"]].itertuples(
            index=False
        ):
            out = io.BytesIO()
            np.save(out, x)
            zf.writestr(name.split("/")[-1], out.getvalue())
            lines.append(f"{name.split('/')[-1]},{label},{group},{rpm}")
        zf.writestr("labels.csv", "\n".join(lines) + "\n")
    return buffer.getvalue()


def _train(api: Api, task: str, dataset: str, name: str, **extra: object) -> int:
    body = {
        "type": "train",
        "task": task,
        "dataset_id": dataset,
        "model_name": name,
        "time_budget_s": 15,
        **extra,
    }
    job = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    return int(done["result"]["version"])


def test_upload_train_predict_explain_and_stream(api: Api) -> None:
    builder = api.headers("builder")
    up = api.client.post(
        "/v1/datasets",
        files={"file": ("bearings.zip", _zip(), "application/zip")},
        data={"name": "bearings", "sampling_rate": str(RATE)},
        headers=builder,
    )
    assert up.status_code == 201, up.text
    dataset = up.json()
    signal = next(c for c in dataset["columns"] if c["name"] == "signal")
    assert signal["type"] == "waveform" and set(signal["stats"]["spectra"]["db"]) == {
        "inner",
        "normal",
        "outer",
    }
    options = {"window": 1024, "candidates": ["logistic", "lightgbm"], "defect_orders": ORDERS}
    version = _train(
        api, "signal_classification", dataset["id"], "bearing-class", target="label", options=options
    )
    consumer = api.headers("consumer")
    records = [
        record(waveform(4.9, 1760, seed=901), rpm=1760),
        record(waveform(None, 1760, seed=902), rpm=1760),
    ]
    predicted = api.client.post(
        "/v1/models/bearing-class/predict",
        json={"records": records},
        params={"version": version},
        headers=consumer,
    )
    assert predicted.status_code == 200, predicted.text
    assert [p["label"] for p in predicted.json()["predictions"]] == ["inner", "normal"]
    explained = api.client.post(
        "/v1/models/bearing-class/explain",
        json={"records": records[:1]},
        params={"version": version},
        headers=consumer,
    )
    assert explained.status_code == 200, explained.text
    why = explained.json()["explanations"][0]
    assert why["contributions"] and any(m["name"] == "BPFI" for m in why["spectrum"]["markers"])
    bad = api.client.post(
        "/v1/models/bearing-class/predict",
        json={"records": [{"sampling_rate": RATE}]},
        params={"version": version},
        headers=consumer,
    )
    assert bad.status_code == 422
    anomaly_options = {"window": 1024, "normal_label": "normal", "false_alarm_rate": 0.05, "alarm_windows": 1}
    version = _train(api, "signal_anomaly", dataset["id"], "bearing-watch", options=anomaly_options)
    window = {**record(waveform(3.1, 1720, seed=903)[:1024], rpm=1720), "group": "pump-1"}
    scored = api.client.post(
        "/v1/models/bearing-watch/score",
        json={"records": [window]},
        params={"version": version},
        headers=consumer,
    )
    assert scored.status_code == 200, scored.text
    assert scored.json()["results"][0]["alarm"] is True


def test_a_bad_recording_upload_changes_nothing(api: Api) -> None:
    builder = api.headers("builder")
    before = api.client.get("/v1/datasets", headers=builder).json()["items"]
    up = api.client.post(
        "/v1/datasets",
        files={"file": ("r.npy", _zip()[:10], "application/octet-stream")},
        data={"format": "signals"},
        headers=builder,
    )
    assert up.status_code in (415, 422), up.text
    assert api.client.get("/v1/datasets", headers=builder).json()["items"] == before


def test_a_training_request_on_the_wrong_kind_of_dataset_is_refused_at_once(api: Api) -> None:
    """A table for a signal family, recordings for a table family: 422 at the request naming
    ``dataset_id``, and no job row."""
    builder = api.headers("builder")
    table = api.client.post(
        "/v1/datasets",
        files={"file": ("t.csv", b"label,a,b\nx,1,2\ny,3,4\n", "text/csv")},
        headers=builder,
    ).json()["id"]
    recorded = api.client.post(
        "/v1/datasets",
        files={"file": ("bearings.zip", _zip(), "application/zip")},
        data={"name": "bearings", "sampling_rate": str(RATE)},
        headers=builder,
    ).json()["id"]
    requests = [
        {"task": "signal_classification", "dataset_id": table, "target": "label"},
        {"task": "signal_anomaly", "dataset_id": table},
        {"task": "tabular_classification", "dataset_id": recorded, "target": "label"},
    ]
    for request in requests:
        body = {"type": "train", "model_name": "wrong-kind", **request}
        refused = api.client.post("/v1/jobs", json=body, headers=builder)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert [e["loc"] for e in problem["errors"]] == [["body", "dataset_id"]], problem
        wanted = "a table" if request["task"].startswith("tabular") else "a recording dataset"
        assert wanted in problem["detail"], problem
    assert api.client.get("/v1/jobs", headers=builder).json()["items"] == []

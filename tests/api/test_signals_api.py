"""One recording set through the API: a zip of recordings uploaded, signal_classification trained,
predicted and explained; signal_anomaly scoring windows as a stream."""

from __future__ import annotations

import io

import numpy as np
import pytest

from conftest import Api
from signal_data import ORDERS, RATE, record, recordings_zip, waveform


def _zip() -> bytes:
    return recordings_zip(per_class=4)


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


def _mat(x: np.ndarray, variable: str = "X118_DE_time") -> bytes:
    from scipy.io import savemat

    out = io.BytesIO()
    savemat(out, {variable: x.reshape(-1, 1)})
    return out.getvalue()


def _wav(x: np.ndarray) -> bytes:
    from scipy.io import wavfile

    out = io.BytesIO()
    wavfile.write(out, RATE, x.astype(np.float32))
    return out.getvalue()


def test_recording_files_are_predicted_and_explained_in_part_order(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .mat and a .wav sent as files: read as an upload's recordings are, answered in part order
    with their file names, as the same samples sent as JSON records are."""
    builder = api.headers("builder")
    up = api.client.post(
        "/v1/datasets",
        files={"file": ("bearings.zip", _zip(), "application/zip")},
        data={"name": "bearings", "sampling_rate": str(RATE)},
        headers=builder,
    )
    assert up.status_code == 201, up.text
    options = {"window": 1024, "candidates": ["logistic"], "defect_orders": ORDERS}
    version = _train(
        api, "signal_classification", up.json()["id"], "bearing-files", target="label", options=options
    )
    consumer, url = api.headers("consumer"), f"/v1/models/bearing-files/predict?version={version}"
    inner, healthy = waveform(4.9, 1760, seed=901), waveform(None, 1760, seed=902)
    files = [
        ("recording", ("pump-7.mat", _mat(inner), "application/octet-stream")),
        ("recording", ("pump-8.wav", _wav(healthy), "audio/wav")),
    ]
    form = {"sampling_rate": str(RATE), "rpm": "1760"}  # the .mat states no rate; the .wav does
    answer = api.client.post(url, files=files, data=form, headers=consumer)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    named = [(p["file"], p["label"]) for p in predictions]
    assert named == [("pump-7.mat", "inner"), ("pump-8.wav", "normal")]
    as_json = api.client.post(
        url, json={"records": [record(inner, rpm=1760), record(healthy, rpm=1760)]}, headers=consumer
    ).json()["predictions"]
    assert [{k: v for k, v in p.items() if k != "file"} for p in predictions] == as_json

    explain = f"/v1/models/bearing-files/explain?version={version}"
    explained = api.client.post(explain, files=files[:1], data=form, headers=consumer)
    assert explained.status_code == 200, explained.text
    (why,) = explained.json()["explanations"]
    assert why["file"] == "pump-7.mat" and why["contributions"]

    broken = ("recording", ("pump-9.mat", b"MATLAB 5.0 MAT-file, but cut short", "application/octet-stream"))
    refused = api.client.post(url, files=[files[0], broken], data=form, headers=consumer)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert "pump-9.mat" in problem["detail"]
    assert [(e["loc"], e["file"]) for e in problem["errors"]] == [(["body", "recording", 1], "pump-9.mat")]

    from shopfloor.data import waveforms

    monkeypatch.setattr(waveforms, "MAX_DECODED_BYTES", 1000)  # the decoded-size guard, at a small limit
    packed = io.BytesIO()
    np.savez_compressed(packed, signal=inner)
    bomb = ("recording", ("pump-10.npz", packed.getvalue(), "application/octet-stream"))
    refused = api.client.post(explain, files=[bomb], data=form, headers=consumer)
    assert refused.status_code == 422 and "pump-10.npz" in refused.json()["detail"], refused.text
    assert "decoded" in refused.json()["errors"][0]["msg"]
    monkeypatch.undo()

    wrong = {
        "an image part": ([("image", ("x.png", b"\x89PNG", "image/png"))], form, ["body", "image"]),
        "a bad rate": (files[:1], {"sampling_rate": "fast"}, ["body", "sampling_rate"]),
        "a missing channel": (files[:1], {**form, "channels": "DE_time,FE_time"}, ["body", "recording", 0]),
    }
    for why, (parts, fields, loc) in wrong.items():
        refused = api.client.post(url, files=parts, data=fields, headers=consumer)
        assert refused.status_code == 422, (why, refused.text)
        assert refused.json()["errors"][0]["loc"] == loc, (why, refused.json())


def test_a_table_model_refuses_recording_files(api: Api) -> None:
    api.platform.store.add_version(
        tenant="default",
        model="line",
        task="tabular_classification",
        report={},
        input_schema=[{"name": "a", "type": "numeric"}],
        files={},
        artifact="default/models/line/x",
        lineage={},
        job_id=None,
    )
    part = [("recording", ("pump-7.wav", _wav(waveform(None, 1760)), "audio/wav"))]
    for route in ("predict", "explain"):
        refused = api.client.post(
            f"/v1/models/line/{route}?version=1", files=part, headers=api.headers("consumer")
        )
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["errors"][0]["loc"] == ["body", "recording"]
        assert "not recordings" in problem["detail"], problem

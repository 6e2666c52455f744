"""Image models over HTTP: a zip of good and scratched parts -> image_anomaly job -> predict with
multipart files or base64 JSON -> anomaly maps; wrong pairings of task and dataset refused."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import Api
from vision_weights import tiny_resnet


def _part(rng: np.random.Generator, scratched: bool) -> bytes:
    pixels = 0.5 + 0.08 * rng.normal(size=(48, 48))
    if scratched:
        pixels[22:25, 6:42] = 1.0
    out = io.BytesIO()
    Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def _parts_zip(good: int = 30, scratched: int = 6) -> bytes:
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(good):
            archive.writestr(f"good/g{i}.png", _part(rng, False))
        for i in range(scratched):
            archive.writestr(f"scratch/s{i}.png", _part(rng, True))
    return out.getvalue()


def _dataset(api: Api, good: int = 30, scratched: int = 6) -> str:
    answer = api.client.post(
        "/v1/datasets",
        files={"file": ("parts.zip", _parts_zip(good, scratched), "application/zip")},
        headers=api.headers("builder"),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _train(api: Api, dataset_id: str, **extra: object) -> object:
    body = {
        "type": "train",
        "task": "image_anomaly",
        "dataset_id": dataset_id,
        "model_name": "press",
        "options": {"label_column": "label", "good_label": "good", "size": 48, "memory_size": 300},
    }
    return api.client.post("/v1/jobs", json={**body, **extra}, headers=api.headers("builder"))


def test_anomaly_model_from_a_zip_scores_uploaded_images(api: Api) -> None:
    dataset_id = _dataset(api)
    job = _train(api, dataset_id)
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    rng = np.random.default_rng(5)
    good, bad = _part(rng, False), _part(rng, True)
    files = [("image", ("ok.png", good, "image/png")), ("image", ("bad.png", bad, "image/png"))]
    consumer = api.headers("consumer")
    answer = api.client.post("/v1/models/press/predict?version=1", files=files, headers=consumer)
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["predictions"]
    assert second["score"] > first["score"] and second["anomaly"] is True
    records = {"records": [{"image": base64.b64encode(bad).decode()}]}
    same = api.client.post("/v1/models/press/predict?version=1", json=records, headers=consumer)
    assert same.json()["predictions"][0]["score"] == second["score"]
    explained = api.client.post("/v1/models/press/explain?version=1", json=records, headers=consumer)
    assert explained.status_code == 200, explained.text
    found = explained.json()["explanations"][0]
    Image.open(io.BytesIO(base64.b64decode(found["map_png"]))).verify()
    assert found["contributions"] and found["anomaly"] is True


def test_image_requests_that_cannot_work_are_refused(api: Api) -> None:
    dataset_id = _dataset(api)
    table = api.client.post(
        "/v1/datasets",
        files={"file": ("t.csv", b"a,b\n1,2\n3,4\n", "text/csv")},
        headers=api.headers("builder"),
    ).json()["id"]
    cases = {
        "table for an image task": (_train(api, table), ["body", "dataset_id"]),
        "images for a tabular task": (
            api.client.post(
                "/v1/jobs",
                headers=api.headers("builder"),
                json={
                    "type": "train",
                    "task": "tabular_classification",
                    "dataset_id": dataset_id,
                    "target": "label",
                    "model_name": "x",
                },
            ),
            ["body", "dataset_id"],
        ),
        "unknown label column": (
            _train(api, dataset_id, options={"label_column": "kind", "good_label": "good"}),
            ["body", "options", "label_column"],
        ),
        "false alarm rate out of range": (
            _train(api, dataset_id, options={"false_alarm_rate": 2.0}),
            ["body", "options", "false_alarm_rate"],
        ),
    }
    for why, (answer, loc) in cases.items():
        assert answer.status_code == 422, (why, answer.text)
        assert answer.json()["errors"][0]["loc"] == loc, (why, answer.json())
    assert api.client.get("/v1/jobs", headers=api.headers("builder")).json()["items"] == []
    empty = api.client.post(
        "/v1/models/press/predict", files={"note": (None, "x")}, headers=api.headers("consumer")
    )
    assert empty.status_code == 422


def test_defect_classifier_from_a_zip_predicts_and_explains_images(api: Api) -> None:
    dataset_id = _dataset(api, good=24, scratched=24)
    body = {
        "type": "train",
        "task": "image_classification",
        "dataset_id": dataset_id,
        "target": "label",
        "model_name": "inspect",
        "options": {"size": 32, "max_epochs": 4, "patience": 4, "stability_seeds": 0},
    }
    job = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert job.status_code == 202, job.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    rng = np.random.default_rng(9)
    files = [("image", ("a.png", _part(rng, True), "image/png"))]
    consumer = api.headers("consumer")
    answer = api.client.post("/v1/models/inspect/predict?version=1", files=files, headers=consumer)
    assert answer.status_code == 200, answer.text
    found = answer.json()["predictions"][0]
    assert set(found["probabilities"]) == {"good", "scratch"}
    records = {"records": [{"image": base64.b64encode(_part(rng, True)).decode()}]}
    explained = api.client.post(
        "/v1/models/inspect/explain?version=1&method=gradcam", json=records, headers=consumer
    )
    assert explained.status_code == 200, explained.text
    heat = explained.json()["explanations"][0]
    Image.open(io.BytesIO(base64.b64decode(heat["heatmap_png"]))).verify()
    bad = api.client.post(
        "/v1/models/inspect/predict?version=1",
        json={"records": [{"image": "bm90IGFuIGltYWdl"}]},
        headers=consumer,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "records", 0, "image"]
    batch = api.client.post(
        "/v1/models/inspect/batch?version=1",
        files={"file": ("x.csv", b"a\n1\n", "text/csv")},
        headers=api.headers("builder"),
    )
    assert batch.status_code == 422


def test_the_backbone_folder_in_settings_is_used_by_every_image_job(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tiny_resnet(tmp_path / "backbones")
    monkeypatch.setattr(api.settings, "vision_backbone_dir", folder)
    dataset_id = _dataset(api, good=12, scratched=12)
    body = {
        "type": "train",
        "task": "image_classification",
        "dataset_id": dataset_id,
        "target": "label",
        "model_name": "inspect",
        "options": {"size": 32, "max_epochs": 1, "stability_seeds": 0},
    }
    job = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert job.status_code == 202, job.text
    assert job.json()["params"]["options"]["backbone"] == "default"  # the name is kept, not the path
    anomaly = _train(api, dataset_id)
    assert anomaly.status_code == 202, anomaly.text
    api.run_jobs()
    builder = api.headers("builder")
    classifier = api.client.get("/v1/models/inspect/versions/1", headers=builder).json()
    assert classifier["report"]["network"]["kind"] == "resnet"
    assert classifier["report"]["backbone"]["name"] == "default"
    assert str(tmp_path) not in json.dumps(classifier)
    detector = api.client.get("/v1/models/press/versions/1", headers=builder).json()
    assert detector["report"]["features"]["kind"] == "backbone"
    # a job naming no backbone of its own is refused when the server's file is not a usable ResNet,
    # and the answer names the setting but not its path; no job is created
    (folder / "model.safetensors").write_bytes(b"not weights")
    before = len(api.client.get("/v1/jobs", headers=builder).json()["items"])
    refused = api.client.post("/v1/jobs", json=body, headers=builder)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["settings", "vision_backbone_dir"]
    assert str(tmp_path) not in refused.text
    assert len(api.client.get("/v1/jobs", headers=builder).json()["items"]) == before


def test_a_job_chooses_a_backbone_by_name_never_by_path(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf = tmp_path / "allowed"
    tiny_resnet(shelf / "tiny18")
    tiny_resnet(tmp_path / "elsewhere")  # weights outside the allowed folder
    monkeypatch.setattr(api.settings, "vision_backbones_dir", shelf)
    dataset_id = _dataset(api, good=12, scratched=12)
    builder = api.headers("builder")
    body = {
        "type": "train",
        "task": "image_anomaly",
        "dataset_id": dataset_id,
        "model_name": "press",
        "options": {"label_column": "label", "good_label": "good", "size": 48, "memory_size": 300},
    }
    before = len(api.client.get("/v1/jobs", headers=builder).json()["items"])
    # the old path option is refused, saying what to use instead
    old = {**body, "options": {**body["options"], "backbone_dir": str(tmp_path / "elsewhere")}}
    refused = api.client.post("/v1/jobs", json=old, headers=builder)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "options", "backbone_dir"]
    assert "options.backbone" in refused.json()["detail"] and "tiny18" in refused.json()["detail"]
    for name in ("elsewhere", "../elsewhere", str(tmp_path / "elsewhere"), "tiny18/..", ".", 7):
        bad = {**body, "options": {**body["options"], "backbone": name}}
        refused = api.client.post("/v1/jobs", json=bad, headers=builder)
        assert refused.status_code == 422, (name, refused.text)
        problem = refused.json()
        assert problem["errors"][0]["loc"] == ["body", "options", "backbone"]
        assert "available: tiny18" in problem["detail"] and str(tmp_path) not in refused.text
    assert len(api.client.get("/v1/jobs", headers=builder).json()["items"]) == before
    good = {**body, "options": {**body["options"], "backbone": "tiny18"}}
    job = api.client.post("/v1/jobs", json=good, headers=builder)
    assert job.status_code == 202, job.text
    api.run_jobs()
    assert api.client.get(f"/v1/jobs/{job.json()['id']}", headers=builder).json()["status"] == "succeeded"
    version = api.client.get("/v1/models/press/versions/1", headers=builder).json()
    assert version["report"]["features"]["kind"] == "backbone" and str(tmp_path) not in json.dumps(version)

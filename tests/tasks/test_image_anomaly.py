"""Image anomaly detection on synthetic part images: smooth noise textures, defects are bright marks."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.tasks.image_anomaly.estimator import ESTIMATOR_FILE, WEIGHTS_FILE, ImageAnomalyDetector
from vision_weights import tiny_resnet

SIDE = 48
QUICK = {"size": 48, "memory_size": 300}


def _texture(rng: np.random.Generator, width: int = SIDE, height: int = SIDE) -> np.ndarray:
    noise = gaussian_filter(rng.normal(size=(height, width)), 1.5)
    return 0.45 + 0.1 * noise / noise.std()


def _scratch(pixels: np.ndarray, row: int) -> np.ndarray:
    out = pixels.copy()
    out[row : row + 2, 6:42] = 1.0
    return out


def _blob(pixels: np.ndarray, y: int, x: int, radius: int = 4) -> np.ndarray:
    out = pixels.copy()
    yy, xx = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    out[(yy - y) ** 2 + (xx - x) ** 2 < radius**2] = 1.0
    return out


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels * 255, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _parts(n_good: int, n_defect: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"image": _png(_texture(rng)), "label": "good"} for _ in range(n_good)]
    for i in range(n_defect):
        if i % 2:
            pixels, label = _scratch(_texture(rng), int(rng.integers(8, 38))), "scratch"
        else:
            pixels, label = _blob(_texture(rng), *(int(v) for v in rng.integers(10, 38, 2))), "blob"
        rows.append({"image": _png(pixels), "label": label})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def parts() -> pd.DataFrame:
    return _parts(40, 20)


@pytest.fixture(scope="module")
def fitted(parts: pd.DataFrame) -> tuple[ImageAnomalyDetector, list[tuple[float, str]]]:
    stages: list[tuple[float, str]] = []
    est = ImageAnomalyDetector(label_column="label", good_label="good", seed=0, **QUICK)
    assert est.fit(parts, "", progress=lambda f, s, m: stages.append((f, s))) is est
    return est, stages


@pytest.fixture(scope="module")
def unseen() -> dict[str, bytes]:
    rng = np.random.default_rng(99)
    return {
        "good": _png(_texture(rng)),
        "blob": _png(_blob(_texture(rng), 12, 12, radius=5)),
        "scratch": _png(_scratch(_texture(rng), 36)),
    }


def test_fit_on_good_images_separates_defects(fitted: tuple[ImageAnomalyDetector, list]) -> None:
    est, stages = fitted
    report = est.report_
    assert (report["n_train"], report["n_holdout"], report["n_defect"]) == (32, 8, 20)
    assert report["metrics"]["auroc"] >= 0.95
    assert report["metrics"]["recall_at_threshold"] >= 0.8
    assert {r["label"] for r in report["per_label"]} == {"blob", "scratch"}
    assert report["scores"]["defect"]["median"] > report["scores"]["good_holdout"]["max"]
    assert sum(report["scores"]["histogram"]["good_holdout"]) == 8
    assert report["map_scale"] and report["features"]["kind"] == "texture"
    assert est.input_schema_ == [{"name": "image", "type": "image"}]
    assert json.loads(json.dumps(report)) == report
    assert [f for f, _ in stages] == sorted(f for f, _ in stages) and stages[-1][0] == 1.0


def test_threshold_follows_the_false_alarm_rate(
    parts: pd.DataFrame, fitted: tuple[ImageAnomalyDetector, list]
) -> None:
    strict = fitted[0].report_
    # 8 held-out good images cannot resolve 1 %: the threshold is their highest score
    assert strict["threshold"] == pytest.approx(strict["scores"]["good_holdout"]["max"])
    assert strict["metrics"]["false_alarm_rate_holdout"] == 0.0
    assert any(w["code"] == "few-held-out" for w in strict["warnings"])
    loose = ImageAnomalyDetector(label_column="label", good_label="good", false_alarm_rate=0.5, **QUICK)
    report = loose.fit(parts, "").report_
    assert report["threshold"] < strict["threshold"]
    assert 0.25 <= report["metrics"]["false_alarm_rate_holdout"] <= 0.5
    assert report["metrics"]["recall_at_threshold"] >= strict["metrics"]["recall_at_threshold"]


def test_predict(fitted: tuple[ImageAnomalyDetector, list], unseen: dict[str, bytes]) -> None:
    est, _ = fitted
    records = [
        {"image": unseen["good"]},
        {"image": base64.b64encode(unseen["blob"]).decode()},
        {"image": "data:image/png;base64," + base64.b64encode(unseen["scratch"]).decode(), "other": 1},
    ]
    out = est.predict(records)
    assert [set(r) for r in out] == [{"score", "threshold", "anomaly", "warnings"}] * 3
    assert [r["anomaly"] for r in out] == [False, True, True]
    assert out[0]["score"] < out[0]["threshold"] == est.threshold_ < out[1]["score"]
    assert all(r["warnings"] == [] for r in out)
    assert est.predict([]) == []


def test_predict_warns_about_unlike_images(fitted: tuple[ImageAnomalyDetector, list]) -> None:
    wide = _png(_texture(np.random.default_rng(5), width=2 * SIDE))
    (answer,) = fitted[0].predict([{"image": wide}])
    assert answer["warnings"] and "96x48" in answer["warnings"][0]


def test_explain_maps_and_regions(
    fitted: tuple[ImageAnomalyDetector, list], unseen: dict[str, bytes]
) -> None:
    est, _ = fitted
    good, blob = est.explain([{"image": unseen["good"]}, {"image": unseen["blob"]}])
    for e in (good, blob):
        assert e["method"] == "anomaly_map" and e["threshold"] == est.threshold_
        grid = np.array(e["map"])
        assert grid.shape == (6, 6) and 0.0 <= grid.min() and grid.max() <= 1.0
        with Image.open(io.BytesIO(base64.b64decode(e["map_png"]))) as png:
            assert (png.format, png.size, png.mode) == ("PNG", (SIDE, SIDE), "RGB")
        assert e["contributions"] and all(
            {"x0", "y0", "x1", "y1", "weight"} == set(r) for r in e["contributions"]
        )
    # 0.5 on the map is the threshold: only the flagged image reaches it
    assert np.max(good["map"]) < 0.5 <= np.max(blob["map"])
    top = blob["contributions"][0]
    assert top["x0"] <= 12 < top["x1"] and top["y0"] <= 12 < top["y1"]
    assert (top["x1"] - top["x0"]) * (top["y1"] - top["y0"]) <= SIDE * SIDE / 2
    assert top["weight"] == pytest.approx(np.max(blob["map"]), abs=1e-4)
    assert est.explain([{"image": unseen["blob"]}], method="shap") == [blob]
    with pytest.raises(InvalidInput):
        est.explain([{"image": unseen["blob"]}], method="lime")


def test_save_load_gives_identical_answers(
    fitted: tuple[ImageAnomalyDetector, list], unseen: dict[str, bytes]
) -> None:
    est, _ = fitted
    files = est.save()
    assert set(files) == {ESTIMATOR_FILE, WEIGHTS_FILE}
    assert all(isinstance(v, bytes) for v in files.values())
    again = ImageAnomalyDetector.load(files)
    records = [{"image": v} for v in unseen.values()]
    assert again.predict(records) == est.predict(records)
    assert again.explain(records) == est.explain(records)
    assert again.report_ == est.report_ and again.get_params() == {**est.get_params(), "column_types": None}


def _damaged(files: dict[str, bytes]) -> list[dict[str, bytes]]:
    state = json.loads(files[ESTIMATOR_FILE])
    other_size = json.dumps({**state, "extractor": {**state["extractor"], "size": 64}}).encode()
    return [
        {ESTIMATOR_FILE: files[ESTIMATOR_FILE]},
        {**files, ESTIMATOR_FILE: b"{not json"},
        {**files, ESTIMATOR_FILE: json.dumps({**state, "format": 99}).encode()},
        {**files, WEIGHTS_FILE: files[WEIGHTS_FILE][:-100]},
        {**files, WEIGHTS_FILE: b"\x00" * 64},
        {**files, ESTIMATOR_FILE: other_size},
    ]


def test_damaged_artifacts_are_refused(fitted: tuple[ImageAnomalyDetector, list]) -> None:
    for files in _damaged(fitted[0].save()):
        with pytest.raises(ArtifactCorrupted):
            ImageAnomalyDetector.load(files)


def test_unreadable_images_are_refused_where_they_are(
    fitted: tuple[ImageAnomalyDetector, list], unseen: dict[str, bytes]
) -> None:
    records: list[dict[str, Any]] = [
        {"image": unseen["good"]},
        {"image": "not base64 !"},
        {"image": b"GIF89a garbage"},
        {"name": "x"},
    ]
    with pytest.raises(InvalidInput) as caught:
        fitted[0].predict(records)
    assert [e["loc"] for e in caught.value.errors] == [["body", "records", i, "image"] for i in (1, 2, 3)]
    with pytest.raises(InvalidInput):
        fitted[0].explain(records[1:2])


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"false_alarm_rate": 0}, "false_alarm_rate"),
        ({"false_alarm_rate": 0.6}, "false_alarm_rate"),
        ({"false_alarm_rate": "1%"}, "false_alarm_rate"),
        ({"good_label": "ok"}, "good_label"),
        ({"label_column": "label"}, "good_label"),
        ({"label_column": "label", "good_label": [1]}, "good_label"),
        ({"size": 50}, "size"),
        ({"size": 1024}, "size"),
        ({"memory_size": 10}, "memory_size"),
        ({"memory_size": True}, "memory_size"),
        ({"metric": "f1"}, "metric"),
        ({"time_budget_s": 0}, "time_budget_s"),
        ({"image_column": ""}, "image_column"),
        ({"backbone": "/nonexistent/weights"}, "backbone"),
        ({"backbone": "resnet18"}, "backbone"),  # a name no job resolved to a folder
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ImageAnomalyDetector(**options).check_options()
    assert caught.value.errors[0]["loc"] == ["body", "options", name]


def test_missing_columns_are_refused(parts: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as caught:
        ImageAnomalyDetector(image_column="picture", **QUICK).fit(parts, "")
    assert caught.value.errors[0]["loc"] == ["body", "options", "image_column"]
    with pytest.raises(InvalidInput) as caught:
        ImageAnomalyDetector(label_column="grade", good_label="A", **QUICK).fit(parts, "")
    assert caught.value.errors[0]["loc"] == ["body", "options", "label_column"]


def test_too_few_good_images_are_refused() -> None:
    parts = _parts(9, 10)
    with pytest.raises(InvalidInput) as caught:
        ImageAnomalyDetector(label_column="label", good_label="good", **QUICK).fit(parts, "")
    assert "9 images labelled 'good'" in caught.value.detail
    with pytest.raises(InvalidInput):
        ImageAnomalyDetector(**QUICK).fit(parts.head(9)[["image"]], "")


def test_without_labels_every_image_is_good() -> None:
    parts = _parts(12, 0, seed=3)[["image"]]
    est = ImageAnomalyDetector(**QUICK).fit(parts, "")
    report = est.report_
    assert (report["n_train"], report["n_holdout"], report["n_defect"]) == (10, 2, 0)
    assert "auroc" not in report["metrics"] and report["metrics"]["threshold"] == est.threshold_
    assert report["scores"]["defect"] is None


def test_not_fitted() -> None:
    est = ImageAnomalyDetector()
    for call in (lambda: est.predict([{}]), lambda: est.explain([{}]), est.save):
        with pytest.raises(NotFitted):
            call()


def test_predict_frame(fitted: tuple[ImageAnomalyDetector, list], unseen: dict[str, bytes]) -> None:
    frame = pd.DataFrame({"image": [unseen["good"], b"broken", unseen["scratch"]]})
    out = fitted[0].predict_frame(frame)
    assert list(out["anomaly"]) == [False, None, True]
    assert out["warning"].iloc[1] and out["score"].iloc[2] > out["threshold"].iloc[2]


def test_pretrained_backbone_from_a_directory(
    tmp_path: Path, parts: pd.DataFrame, unseen: dict[str, bytes]
) -> None:
    tiny_resnet(tmp_path)
    est = ImageAnomalyDetector(label_column="label", good_label="good", backbone="tiny", **QUICK)
    est.use_backbone(tmp_path).fit(parts, "")
    assert est.report_["features"] == {"kind": "backbone", "size": 48, "stride": 8, "channels": 24}
    assert 0.0 <= est.report_["metrics"]["auroc"] <= 1.0
    again = ImageAnomalyDetector.load(est.save())
    records = [{"image": v} for v in unseen.values()]
    assert again.predict(records) == est.predict(records)
    # a model saved when options held a backbone_dir path still loads (its weights are inside)
    files = est.save()
    state = json.loads(files["estimator.json"])
    state["params"] = {k: v for k, v in state["params"].items() if k != "backbone"} | {"backbone_dir": "/w"}
    old = ImageAnomalyDetector.load({**files, "estimator.json": json.dumps(state).encode()})
    assert old.predict(records) == est.predict(records) and old.backbone is None
    (tmp_path / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(InvalidInput) as caught:
        est.check_options()
    assert caught.value.errors[0]["loc"] == ["body", "options", "backbone"]
    assert str(tmp_path) not in caught.value.detail

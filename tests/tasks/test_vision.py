"""Image classification on tiny synthetic parts: horizontal versus vertical stripes with noise."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.tasks.base import Estimator
from shopfloor.tasks.image_classification.augment import Augment, rotate
from shopfloor.tasks.image_classification.estimator import ImageClassifier
from shopfloor.tasks.image_classification.heatmap import overlay_png, top_regions
from shopfloor.tasks.image_classification.net import architecture, build_net, grad_cam
from vision_weights import tiny_resnet

SIZE = 32
Files = dict[str, bytes]
FAST = {"size": SIZE, "max_epochs": 6, "patience": 6, "batch_size": 16, "stability_seeds": 1}


def stripes(kind: str, rng: np.random.Generator, side: int = SIZE, colour: bool = False) -> bytes:
    """A PNG of stripes (period 8 px, random phase) across ("h") or down ("v") the image, with noise."""
    phase = rng.integers(0, 8)
    line = ((np.arange(side) + phase) % 8 < 4).astype(np.float32)
    pattern = np.tile(line[:, None], (1, side)) if kind == "h" else np.tile(line[None, :], (side, 1))
    pixels = np.clip(60 + 140 * pattern + rng.normal(0, 20, (side, side)), 0, 255).astype(np.uint8)
    if colour:
        pixels = np.stack([pixels, pixels // 2, 255 - pixels], axis=2)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def frame(n_per_class: int = 24, seed: int = 0, colour: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"image": stripes(kind, rng, colour=colour), "label": name, "filename": f"{name}_{i}.png"}
        for kind, name in (("h", "horizontal"), ("v", "vertical"))
        for i in range(n_per_class)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fitted() -> ImageClassifier:
    return ImageClassifier(**FAST).fit(frame(), "label")


@pytest.fixture(scope="module")
def samples() -> list[bytes]:
    rng = np.random.default_rng(99)
    return [stripes("h", rng), stripes("v", rng), stripes("v", rng)]


def test_protocol_and_progress() -> None:
    seen: list[float] = []
    est = ImageClassifier(**{**FAST, "max_epochs": 2}).fit(frame(10), "label", lambda f, s, m: seen.append(f))
    assert isinstance(est, Estimator)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert est.input_schema_ == [{"name": "image", "type": "image"}]
    assert est.get_params()["size"] == SIZE


def test_fit_learns_stripes_and_reports(fitted: ImageClassifier) -> None:
    report = fitted.report_
    metrics = report["metrics"]
    assert metrics["accuracy"] >= 0.9
    assert report["classes"] == ["horizontal", "vertical"]
    assert [c["class"] for c in metrics["per_class"]] == report["classes"]
    assert np.array(metrics["confusion_matrix"]).shape == (2, 2)
    assert metrics["n"] == report["n_test"] == 10
    training = report["training"]
    assert len(training["curve"]) == training["epochs_run"] >= 1
    assert {"epoch", "loss", "val_loss", "val_accuracy"} <= set(training["curve"][0])
    assert report["stability"]["n"] == 1
    assert report["stability"]["metrics"]["accuracy"]["values"] == [metrics["accuracy"]]
    assert report["input"] == {"size": SIZE, "grey": True, "channels": 1}
    assert report["fit_seconds"] > 0
    json.dumps(report)


def test_predict_bytes_and_base64(fitted: ImageClassifier, samples: list[bytes]) -> None:
    raw = fitted.predict([{"image": s} for s in samples])
    text = fitted.predict([{"image": base64.b64encode(s).decode()} for s in samples])
    assert [r["label"] for r in raw] == ["horizontal", "vertical", "vertical"]
    assert raw == text
    assert abs(sum(raw[0]["probabilities"].values()) - 1) < 1e-5
    assert raw[0]["warnings"] == []
    assert fitted.predict([]) == []


def test_predict_warns_on_colour_and_shape(fitted: ImageClassifier) -> None:
    rng = np.random.default_rng(1)
    colour = stripes("h", rng, colour=True)
    wide = io.BytesIO()
    Image.new("L", (96, 32), 128).save(wide, format="PNG")
    out = fitted.predict([{"image": colour}, {"image": wide.getvalue()}])
    assert any("grey" in w for w in out[0]["warnings"])
    assert any("96x32" in w for w in out[1]["warnings"])


def test_bad_image_refused_with_its_location(fitted: ImageClassifier, samples: list[bytes]) -> None:
    with pytest.raises(InvalidInput) as caught:
        fitted.predict([{"image": samples[0]}, {"image": b"not an image"}, {"other": 1}])
    locs = [e["loc"] for e in caught.value.errors]
    assert locs == [["body", "records", 1, "image"], ["body", "records", 2, "image"]]


def test_explain_gradcam(fitted: ImageClassifier, samples: list[bytes]) -> None:
    out = fitted.explain([{"image": s} for s in samples[:2]])
    assert out == fitted.explain([{"image": s} for s in samples[:2]], method="gradcam")
    for e in out:
        assert e["method"] == "gradcam" and e["class"] in fitted.classes_
        assert 0 <= e["output"] <= 1
        grid = np.array(e["heatmap"])
        assert grid.shape == (16, 16) and grid.min() >= 0 and grid.max() <= 1
        with Image.open(io.BytesIO(base64.b64decode(e["heatmap_png"]))) as png:
            assert png.format == "PNG" and png.size == (SIZE, SIZE)
        regions = e["contributions"]
        assert 1 <= len(regions) <= 5
        assert all(0 <= r["x0"] < r["x1"] <= SIZE and 0 <= r["y0"] < r["y1"] <= SIZE for r in regions)
        assert [r["weight"] for r in regions] == sorted((r["weight"] for r in regions), reverse=True)
    with pytest.raises(InvalidInput):
        fitted.explain([{"image": samples[0]}], method="lime")


def test_save_load_round_trip(fitted: ImageClassifier, samples: list[bytes]) -> None:
    files = fitted.save()
    assert set(files) == {"estimator.json", "model.onnx", "net.safetensors"}
    loaded = ImageClassifier.load(files)
    records = [{"image": s} for s in samples]
    assert loaded.predict(records) == fitted.predict(records)
    assert loaded.explain(records) == fitted.explain(records)
    assert loaded.report_ == fitted.report_


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: {**f, "model.onnx": f["model.onnx"][: len(f["model.onnx"]) // 2]},
        lambda f: {**f, "net.safetensors": b"\x00" * 64},
        lambda f: {**f, "estimator.json": b"{not json"},
        lambda f: {**f, "estimator.json": json.dumps({"format": 99}).encode()},
        lambda f: {k: v for k, v in f.items() if k != "net.safetensors"},
    ],
)
def test_damaged_artifacts_refused(fitted: ImageClassifier, damage: Callable[[Files], Files]) -> None:
    with pytest.raises(ArtifactCorrupted):
        ImageClassifier.load(damage(fitted.save()))


def test_not_fitted() -> None:
    est = ImageClassifier()
    with pytest.raises(NotFitted):
        est.predict([{"image": b""}])
    with pytest.raises(NotFitted):
        est.explain([{"image": b""}])
    with pytest.raises(NotFitted):
        est.save()


def test_pretrained_resnet_is_fine_tuned_and_serves(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    folder = tiny_resnet(tmp_path / "backbones")
    pretrained = load_file(str(folder / "model.safetensors"))
    est = ImageClassifier(**{**FAST, "max_epochs": 2}, backbone="tiny").use_backbone(folder)
    est.fit(frame(10), "label")
    report = est.report_["backbone"]
    assert report["name"] == "tiny" and str(tmp_path) not in str(est.report_)  # the name, never the path
    # every backbone tensor but the 1000-class head, and the batch counters, carried over
    carried = [k for k in pretrained if not k.startswith("fc.") and not k.endswith("num_batches_tracked")]
    assert report["tensors_loaded"] == len(carried)
    arch = est.report_["network"]
    assert arch["kind"] == "resnet" and arch["widths"] == [4, 8, 16, 32] and arch["blocks"] == [2, 2, 2, 2]
    assert arch["in_channels"] == 1 and arch["n_classes"] == len(est.classes_) == 2
    # fine-tuned: the stem moved away from the pretrained weights, slower than from-scratch layers would
    stem = est.net_.state_dict()["conv1.weight"].numpy()
    assert not np.allclose(stem, pretrained["conv1.weight"])
    again = ImageClassifier.load(est.save())  # rebuilt from estimator.json alone, no folder needed
    records = [{"image": v} for v in frame(2, seed=5)["image"]]
    assert again.predict(records) == est.predict(records)
    assert _onnx_matches_torch(again, records)
    cams = again.explain(records[:2])
    assert len(cams) == 2 and len(cams[0]["heatmap"]) == 16


def _onnx_matches_torch(est: ImageClassifier, records: list[dict[str, bytes]]) -> bool:
    _, x, _ = est._decode(records)
    with torch.no_grad():
        torch_proba = torch.softmax(est.net_(torch.from_numpy(x)), 1).numpy()
    return bool(np.allclose(est._proba(x), torch_proba, atol=1e-4))


def test_a_backbone_folder_that_is_not_a_resnet_is_refused(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"weight": np.zeros((2, 2), np.float32)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(InvalidInput) as caught:
        ImageClassifier(backbone="odd").use_backbone(tmp_path).check_options()
    assert caught.value.errors[0]["loc"] == ["body", "options", "backbone"]
    assert "basic blocks" in caught.value.detail and str(tmp_path) not in caught.value.detail
    (tmp_path / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(InvalidInput) as caught:
        ImageClassifier(backbone="odd").use_backbone(tmp_path).check_options()
    assert "not a readable safetensors file" in caught.value.detail
    assert str(tmp_path) not in caught.value.detail


def test_options_refused() -> None:
    for bad in (
        {"size": 30},
        {"max_epochs": 0},
        {"batch_size": 1},
        {"metric": "rmse"},
        {"stability_seeds": -1},
    ):
        with pytest.raises(InvalidInput) as caught:
            ImageClassifier(**bad).check_options()
        assert caught.value.errors[0]["loc"] == ["body", "options", next(iter(bad))]
    for name in ("/nonexistent/folder", "../up", "resnet18"):  # a path, or a name no job resolved
        with pytest.raises(InvalidInput) as caught:
            ImageClassifier(backbone=name).check_options()
        assert caught.value.errors[0]["loc"] == ["body", "options", "backbone"]


def test_bad_targets_refused() -> None:
    data = frame(10)
    with pytest.raises(InvalidInput):
        ImageClassifier(**FAST).fit(data, "missing")
    with pytest.raises(InvalidInput):
        ImageClassifier(**FAST).fit(data.assign(label="only"), "label")
    with pytest.raises(InvalidInput):
        ImageClassifier(**FAST, image_column="picture").fit(data, "label")


def test_colour_images_stability_and_budget() -> None:
    data = frame(10, colour=True)
    data.loc[0, "label"] = None
    data.loc[1, "image"] = b"broken"
    est = ImageClassifier(**{**FAST, "max_epochs": 1, "stability_seeds": 2}).fit(data, "label")
    report = est.report_
    assert report["input"]["channels"] == 3 and not report["input"]["grey"]
    assert report["stability"]["n"] == 2 and report["stability"]["seeds"] == [0, 1]
    codes = {w["code"] for w in report["warnings"]}
    assert {"target-missing", "image-unreadable"} <= codes
    tight = ImageClassifier(**{**FAST, "stability_seeds": 3, "time_budget_s": 0.01}).fit(frame(10), "label")
    codes = {w["code"] for w in tight.report_["warnings"]}
    assert {"stability-skipped", "epochs-cut"} <= codes
    assert tight.report_["training"]["epochs_run"] == 1


def test_augment_keeps_shapes_and_range() -> None:
    x = torch.rand(6, 1, 24, 24)
    first = Augment()(x, torch.Generator().manual_seed(3))
    again = Augment()(x, torch.Generator().manual_seed(3))
    assert first.shape == x.shape and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again)
    still = Augment(hflip=False, vflip=False, degrees=0, brightness=0, contrast=0)(x, torch.Generator())
    assert torch.equal(still, x) and still is not x
    turned = rotate(x, torch.zeros(6))
    assert torch.allclose(turned, x, atol=1e-5)


def test_grad_cam_maps() -> None:
    net = build_net(architecture(3, 4, SIZE))
    maps, proba = grad_cam(net, torch.rand(3, 3, SIZE, SIZE))
    assert maps.shape == (3, 4, 4) and maps.min() >= 0 and maps.max() <= 1
    assert proba.shape == (3, 4) and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_heatmap_regions_and_overlay() -> None:
    grid = np.zeros((4, 4))
    grid[1, 2], grid[3, 0] = 1.0, 0.5
    regions = top_regions(grid, width=200, height=100, k=5)
    assert regions == [
        {"x0": 100, "y0": 25, "x1": 150, "y1": 50, "weight": 1.0},
        {"x0": 0, "y0": 75, "x1": 50, "y1": 100, "weight": 0.5},
    ]
    image = io.BytesIO()
    Image.new("L", (40, 20), 90).save(image, format="JPEG")
    with Image.open(io.BytesIO(base64.b64decode(overlay_png(image.getvalue(), grid.tolist())))) as png:
        assert png.size == (40, 20) and png.mode == "RGB"

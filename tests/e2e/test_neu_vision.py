"""NEU-DET steel-surface images through the SDK against the real server, the short version of
bench/vision_neu.py: a zip of 60 images (10 per class) uploaded, a defect classifier trained for one
epoch on 32-pixel images and an anomaly detector on one class, both called with image files and explained."""

from __future__ import annotations

import base64
import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import serve_admin  # noqa: E402

pytestmark = pytest.mark.e2e
PER_CLASS = 10


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    yield from serve_admin(tmp_path_factory.mktemp("neu") / "home", OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def images(data_dir: Path) -> list[Path]:
    folder = data_dir / "neu_det" / "IMAGES"
    if not folder.is_dir():
        pytest.skip(f"NEU-DET not found at {folder}")
    by_class: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.jpg")):
        by_class.setdefault(path.stem.rsplit("_", 1)[0], []).append(path)
    return [p for paths in by_class.values() for p in paths[:PER_CLASS]]


def test_neu_images_train_serve_and_explain(client: Client, images: list[Path], tmp_path: Path) -> None:
    archive = tmp_path / "neu.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in images:
            z.write(path, f"neu/{path.stem.rsplit('_', 1)[0]}/{path.name}")
    dataset = client.upload_dataset(archive)
    assert dataset["rows"] == 6 * PER_CLASS
    profile = {c["name"]: c for c in dataset["columns"]}["image"]
    assert profile["type"] == "image" and len(profile["stats"]["classes"]) == 6

    options = {"size": 32, "max_epochs": 1, "patience": 1, "stability_seeds": 0}
    job = client.train(dataset["id"], "label", "steel", task="image_classification", options=options)
    seen: list[float] = []
    client.wait(job["id"], timeout=900, on_progress=lambda j: seen.append(j["progress"]))
    assert seen == sorted(seen) and seen[-1] == 1.0
    client.set_alias("steel", "production", 1)
    answer = client.predict_images("steel", images[:3])["predictions"]
    assert len(answer) == 3 and all(abs(sum(a["probabilities"].values()) - 1) < 1e-6 for a in answer)
    part = base64.b64encode(images[0].read_bytes()).decode()
    heat = client.explain("steel", [{"image": part}], method="gradcam")["explanations"][0]
    Image.open(io.BytesIO(base64.b64decode(heat["heatmap_png"]))).verify()
    assert heat["contributions"]

    options = {"label_column": "label", "good_label": "rolled-in_scale", "size": 32, "memory_size": 500}
    job = client.train(dataset["id"], None, "steel-anomaly", task="image_anomaly", options=options)
    client.wait(job["id"], timeout=900)
    client.set_alias("steel-anomaly", "production", 1)
    scored = client.predict_images("steel-anomaly", images[:2])["predictions"]
    assert all({"score", "threshold", "anomaly"} <= set(s) for s in scored)

"""Defect classification of NEU-DET steel surface images, trained from scratch on the CPU.

Data: ../shared/data/neu_det (``SHOPFLOOR_DATA_DIR`` overrides the data folder): 1,800 grey
200x200 JPEGs, 300 in each of 6 classes named by the file prefix (``crazing_12.jpg``), with
Pascal-VOC boxes beside them. They are put in the stored form of an image dataset (one row per
image: bytes, filename, label, size, channels, format, boxes) and, for each seed k, the
``image_classification`` estimator is fitted with ``seed=k``: its own stratified 20 % hold-out split
drawn with that seed, so every seed is scored on different test images. Per seed: hold-out
accuracy and training seconds. Then predict latency per image (batch 1, mean over 100 images)
for the ONNX Runtime model the server uses against the same network in PyTorch, and end to end
(decoding and resizing the JPEG included). Writes section ``vision_neu`` of docs/benchmarks.md and
ends with ``accuracy_mean`` and ``train_seconds`` (mean per seed), one per line.

    .venv/bin/python bench/vision_neu.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import REPO, machine_info, write_section

from shopfloor.data.images import inspect_image, to_array
from shopfloor.data.voc import parse_voc
from shopfloor.tasks.image_classification.estimator import ImageClassifier

BUDGET_S = 1200  # each seed's training must stay under 20 minutes on two cores
LATENCY_IMAGES = 100
THREADS_NOTE = (
    "Threads: the estimator trains with two, or with one when the machine is already busy at the start of "
    "the fit (1-minute load average above the cores less 0.5): two OpenMP threads on cores that other "
    "processes hold wait for each other spinning, and ran 3 to 6 times slower than one in our measurements."
)


def load() -> pd.DataFrame:
    """NEU-DET as the stored image table."""
    data = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data")) / "neu_det"
    rows = []
    for path in sorted((data / "IMAGES").glob("*.jpg")):
        raw = path.read_bytes()
        info = inspect_image(raw, ["file", path.name])
        voc = data / "ANNOTATIONS" / f"{path.stem}.xml"
        boxes = json.dumps(parse_voc(voc.read_bytes(), voc.name)) if voc.is_file() else None
        rows.append(
            {
                "image": raw,
                "filename": f"IMAGES/{path.name}",
                "label": re.sub(r"_\d+$", "", path.stem),
                "width": info.width,
                "height": info.height,
                "channels": info.channels,
                "format": info.format,
                "boxes": boxes,
            }
        )
    return pd.DataFrame(rows)


def latency(model: ImageClassifier, images: list[bytes]) -> dict[str, float]:
    """Mean milliseconds per image at batch 1: ONNX Runtime and PyTorch on the decoded input, and
    the whole ``predict`` (decode, resize, ONNX Runtime)."""
    x = [to_array(b, model.size, model.grey_, [])[None] for b in images]
    model.predict([{"image": images[0]}])  # warm up the session
    out = {}
    started = time.perf_counter()
    for a in x:
        model._proba(a)
    out["onnx_ms"] = (time.perf_counter() - started) / len(x) * 1e3
    with torch.no_grad():
        model.net_(torch.from_numpy(x[0]))
        started = time.perf_counter()
        for a in x:
            torch.softmax(model.net_(torch.from_numpy(a)), 1)
    out["torch_ms"] = (time.perf_counter() - started) / len(x) * 1e3
    started = time.perf_counter()
    for b in images:
        model.predict([{"image": b}])
    out["predict_ms"] = (time.perf_counter() - started) / len(images) * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    frame = load()
    load_before = machine_info()["loadavg"]
    runs, model = [], None
    for seed in range(args.seeds):
        started = time.perf_counter()
        est = ImageClassifier(seed=seed, stability_seeds=1, time_budget_s=BUDGET_S).fit(
            frame, "label", lambda fraction, stage, message: print(f"  {stage}: {message}", flush=True)
        )
        report = est.report_
        runs.append(
            {
                "seed": seed,
                "accuracy": report["metrics"]["accuracy"],
                "f1": report["metrics"]["f1"],
                "train_s": report["training"]["seconds"],
                "fit_s": time.perf_counter() - started,
                "epochs": report["training"]["epochs_run"],
                "best": report["training"]["best_epoch"],
                "stopped": report["training"]["stopped"],
                "threads": report["threads"],
            }
        )
        print(json.dumps(runs[-1]), flush=True)
        model = model or est
    assert model is not None
    rng = np.random.default_rng(0)
    picks = rng.choice(len(frame), LATENCY_IMAGES, replace=False)
    lat = latency(model, [frame["image"].iloc[i] for i in picks])
    acc = np.array([r["accuracy"] for r in runs])
    train_s = np.array([r["train_s"] for r in runs])
    worst_confusions = _confusions(model)
    info = machine_info()
    net = model.report_["network"]
    lines = [
        "## Defect classification of NEU-DET images (`bench/vision_neu.py`)",
        "",
        f"Command: `.venv/bin/python bench/vision_neu.py --seeds {args.seeds}`; {info['date']}, "
        f"{info['nproc']} cores ({info['cpu']}), load average {load_before} before and {info['loadavg']} "
        "after (the machine was shared with other work: wall times are upper bounds).",
        f"NEU-DET: {len(frame):,} grey 200x200 JPEGs, 6 classes of 300. `image_classification` with its "
        f"defaults (input {model.size} px grey, residual net of widths {net['widths']}, "
        f"{net['parameters']:,} parameters, trained from scratch, at most {model.max_epochs} epochs, "
        f"patience {model.patience}); each seed k draws its own stratified 20 % hold-out split "
        f"({model.report_['n_test']} images) and validation split.",
        "",
        "| seed | hold-out accuracy | macro-F1 | training s | epochs (best) | stopped | threads |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['seed']} | {r['accuracy']:.4f} | {r['f1']:.4f} | {r['train_s']:.0f} | "
            f"{r['epochs']} ({r['best']}) | {r['stopped']} | {r['threads']} |"
            for r in runs
        ),
        f"| mean | {acc.mean():.4f} (std {acc.std():.4f}) | | {train_s.mean():.0f} | | | |",
        "",
        THREADS_NOTE,
        "",
        f"Most frequent confusions (seed 0, hold-out): {worst_confusions}.",
        "",
        f"Predict latency per image, batch 1, mean over {LATENCY_IMAGES} images: ONNX Runtime "
        f"{lat['onnx_ms']:.2f} ms, PyTorch {lat['torch_ms']:.2f} ms (decoded input); whole `predict` "
        f"(JPEG decode, resize, ONNX Runtime) {lat['predict_ms']:.2f} ms.",
    ]
    write_section("vision_neu", "\n".join(lines))
    print("\n".join(lines))
    print(f"accuracy_mean: {acc.mean():.4f}")
    print(f"train_seconds: {train_s.mean():.1f}")


def _confusions(model: ImageClassifier) -> str:
    metrics = model.report_["metrics"]
    matrix, labels = np.array(metrics["confusion_matrix"]), metrics["confusion_matrix_labels"]
    np.fill_diagonal(matrix, 0)
    pairs = sorted(((int(matrix[i, j]), labels[i], labels[j]) for i, j in np.argwhere(matrix)), reverse=True)
    return ", ".join(f"{t} -> {p} x{n}" for n, t, p in pairs[:4]) or "none"


if __name__ == "__main__":
    main()

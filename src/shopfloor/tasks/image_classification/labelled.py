"""Labelled image tables made ready for training: readable rows, class codes, stratified splits.

Rows without a label or with an image that cannot be decoded are left out with a note; classes
with fewer than :data:`MIN_CLASS_ROWS` images too. Images are kept as 8-bit pixels (lossless: the
decoder's pixels are 8-bit) so large sets fit in memory. :func:`single_report` is the hold-out
report: accuracy and the usual metrics, the confusion matrix and per-class precision, recall and F1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.data.images import image_bytes, inspect_image, to_array
from shopfloor.errors import InvalidInput
from shopfloor.evaluation import metrics as M

MIN_CLASS_ROWS = 5
TEST_SIZE, VALIDATION_SIZE = 0.2, 0.15
GREY_SAMPLE = 32


def note(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(np.rint(pixels * 255.0), dtype=np.uint8)


def splits(y: np.ndarray, seed: int, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified (train, validation, test) rows: test TEST_SIZE of all, validation of the rest."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    n_test = max(n_classes, round(TEST_SIZE * len(y)))
    rest, te = train_test_split(rows, test_size=n_test, random_state=seed, stratify=y)
    n_val = max(n_classes, round(VALIDATION_SIZE * len(rest)))
    tr, va = train_test_split(rest, test_size=n_val, random_state=seed, stratify=y[rest])
    return np.sort(tr), np.sort(va), np.sort(te)


def usable_rows(
    images: pd.Series, labels: pd.Series
) -> tuple[list[bytes], list[Any], np.ndarray, list[dict[str, str]], np.ndarray]:
    """Rows with a label and a readable image: bytes, labels, (width, height), notes on the rest,
    and the row number of each."""
    datas, kept, shapes, notes, rows = [], [], [], [], []
    unlabelled = unreadable = 0
    for i, (value, label) in enumerate(
        zip(images.to_numpy(dtype=object), labels.to_numpy(dtype=object), strict=True)
    ):
        if label is None or (isinstance(label, float) and math.isnan(label)):
            unlabelled += 1
            continue
        try:
            data = image_bytes(value, ["rows", i])
            info = inspect_image(data, ["rows", i])
        except InvalidInput:
            unreadable += 1
            continue
        datas.append(data)
        kept.append(label)
        shapes.append((info.width, info.height))
        rows.append(i)
    if unlabelled:
        notes.append(note("target-missing", f"{unlabelled} images without a label left out"))
    if unreadable:
        notes.append(note("image-unreadable", f"{unreadable} images that cannot be decoded left out"))
    return datas, kept, np.array(shapes, dtype=float).reshape(-1, 2), notes, np.array(rows, dtype=int)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def encode(labels: list[Any], target: str) -> tuple[np.ndarray, list[Any], list[dict[str, str]]]:
    """Class codes; classes with fewer than MIN_CLASS_ROWS images get -1 (left out, with a note)."""
    counts = pd.Series([_plain(v) for v in labels], dtype=object).value_counts()
    rare = counts[counts < MIN_CLASS_ROWS]
    notes = []
    if len(rare):
        notes.append(
            note(
                "rare-classes",
                f"{len(rare)} classes with fewer than {MIN_CLASS_ROWS} images "
                f"({int(rare.sum())} images) left out: {', '.join(map(str, rare.index[:10]))}",
            )
        )
        counts = counts[counts >= MIN_CLASS_ROWS]
    if len(counts) < 2:
        raise InvalidInput(
            f"target {target!r} has {len(counts)} class(es) with at least {MIN_CLASS_ROWS} images; "
            "classification needs two",
            errors=[{"loc": ["body", "target"], "msg": "fewer than two classes"}],
        )
    classes = sorted(counts.index, key=lambda v: (str(type(v)), v))
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index.get(_plain(v), -1) for v in labels]), classes, notes


def grey_content(datas: list[bytes], size: int) -> bool:
    """Whether the images carry no colour: every channel equal (within 2/255) on a spread sample."""
    picks = np.unique(np.linspace(0, len(datas) - 1, min(GREY_SAMPLE, len(datas))).round().astype(int))
    for i in picks:
        rgb = to_array(datas[i], size, False, ["rows", int(i)])
        if float(np.abs(np.diff(rgb, axis=0)).max()) > 2 / 255:
            return False
    return True


def single_report(y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    """Hold-out metrics with a confusion matrix and precision, recall and F1 per class."""
    from sklearn.metrics import precision_recall_fscore_support

    report = M.classification_report(y, proba, classes)
    p, r, f, n = precision_recall_fscore_support(
        y, proba.argmax(axis=1), labels=list(range(len(classes))), zero_division=0
    )
    report["per_class"] = [
        {"class": c, "precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(n[k])}
        for k, c in enumerate(classes)
    ]
    return report

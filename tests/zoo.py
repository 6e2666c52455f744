"""One small trained model of every task family, made through the API (for the fuzz and batch tests).

Tiny data and the smallest budgets, epochs and candidate lists, so that the whole set trains in
well under a minute; :func:`build_zoo` returns, per family, the model's name and a few of its
input records, and :func:`batch_csv` a table the family's batch scoring takes.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

SENSORS = ["temp", "pressure", "vib"]
SCHEMA = [
    {"name": "speed", "type": "numeric"},
    {"name": "torque", "type": "numeric"},
    {"name": "kind", "type": "categorical", "categories": ["L", "M", "H"]},
]


@dataclass
class Member:
    """A trained model of one family: its name, task, a few input records and a batch table."""

    name: str
    task: str
    records: list[dict[str, Any]]
    table: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def machines(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    speed, torque = rng.uniform(1200, 2800, n), rng.uniform(10, 70, n)
    kind = rng.choice(["L", "M", "H"], n)
    fail = ((torque > 55) & (speed < 1600)) | (rng.random(n) < 0.05)
    return pd.DataFrame(
        {
            "speed": speed,
            "torque": torque,
            "wear": rng.uniform(0, 200, n),
            "Type": kind,
            "failure": fail.astype(int),
        }
    )


def histories(units: int, *, wear: bool, seed: int = 0) -> pd.DataFrame:
    """Assets run to failure (temperature and pressure rise with wear) or held steady."""
    rng = np.random.default_rng(seed)
    parts = []
    for unit in range(units):
        n = 40 + 4 * unit
        w = (np.arange(n) / n) ** 2 if wear else np.zeros(n)
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


def orders(rows: int = 60) -> pd.DataFrame:
    words = {
        "hydraulics": "hydraulic hose leaking oil",
        "engine": "engine overheating oil filter",
        "electrical": "battery flat wiring fuse blown",
    }
    labels = list(words)
    return pd.DataFrame(
        {
            "text": [f"{words[labels[i % 3]]} unit {i}" for i in range(rows)],
            "system": [labels[i % 3] for i in range(rows)],
        }
    )


def part_png(rng: np.random.Generator, scratched: bool, side: int = 32) -> bytes:
    pixels = 0.5 + 0.08 * rng.normal(size=(side, side))
    if scratched:
        pixels[side // 2 - 1 : side // 2 + 2, 4 : side - 4] = 1.0
    out = io.BytesIO()
    Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def parts_zip(good: int, scratched: int) -> bytes:
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(good):
            archive.writestr(f"good/g{i}.png", part_png(rng, False))
        for i in range(scratched):
            archive.writestr(f"scratch/s{i}.png", part_png(rng, True))
    return out.getvalue()


def weekly_sales(n_series: int = 6, weeks: int = 30) -> bytes:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_series):
        y = np.maximum(0, rng.uniform(5, 40) + rng.normal(0, 3, weeks)).round()
        rows.append({"Product_Code": f"P{i}", **{f"W{k}": y[k] for k in range(weeks)}})
    return pd.DataFrame(rows).to_csv(index=False).encode()


def lightgbm_model() -> bytes:
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=300), rng.normal(size=300), rng.integers(0, 3, 300)]).astype(float)
    y = ((X[:, 0] + X[:, 1] + (X[:, 2] == 2)) > 0.5).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5}
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=10).model_to_string().encode()


def sensor_stream(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """One sensor read every 10 minutes: a daily swing, noise and one spike."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=n, freq="10min")
    value = 20 + 3 * np.sin(2 * np.pi * np.arange(n) / 144) + 0.3 * rng.normal(size=n)
    value[n - 20] += 6
    return pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "value": value.round(3)})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in frame.to_dict("records")
    ]


def build_zoo(api: Any) -> dict[str, Member]:
    """Train (or import) one model of every family in ``api``'s default tenant; version 1 of each."""
    builder = api.headers("builder")

    def upload(name: str, content: bytes, filename: str, **form: str) -> str:
        answer = api.client.post(
            "/v1/datasets",
            files={"file": (filename, content, "text/csv")},
            data={"name": name, **form},
            headers=builder,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def train(body: dict[str, Any]) -> None:
        answer = api.client.post("/v1/jobs", json={"type": "train", **body}, headers=builder)
        assert answer.status_code == 202, answer.text
        api.run_jobs()  # one at a time: the tenant's job quota is small
        done = api.client.get(f"/v1/jobs/{answer.json()['id']}", headers=builder).json()
        assert done["status"] == "succeeded", done

    rng = np.random.default_rng(1)
    table = machines()
    zoo = {
        "tabular": Member(
            "line",
            "tabular_classification",
            _records(table.drop(columns="failure")[:5]),
            table.drop(columns="failure"),
        ),
        "rul": Member(
            "pumps",
            "rul",
            _records(histories(2, wear=True, seed=5).query("cycle <= 12")),
            histories(2, wear=True, seed=5),
        ),
        "anomaly": Member(
            "press",
            "anomaly",
            _records(histories(1, wear=False, seed=6).query("cycle <= 20")),
            histories(2, wear=False, seed=6),
        ),
        "text_classification": Member(
            "orders",
            "text_classification",
            [{"text": "hydraulic hose leak"}],
            orders(10).drop(columns="system"),
        ),
        "image_anomaly": Member(
            "parts", "image_anomaly", [{"image": base64.b64encode(part_png(rng, True)).decode()}]
        ),
        "image_classification": Member(
            "inspect", "image_classification", [{"image": base64.b64encode(part_png(rng, False)).decode()}]
        ),
        "forecast": Member("demand", "forecast", [{"Product_Code": "P0"}]),
        "imported": Member(
            "external",
            "imported_classification",
            [{"speed": 0.5, "torque": -0.2, "kind": "H"}],
            pd.DataFrame({"speed": [0.5, -1.0], "torque": [-0.2, 0.3], "kind": ["H", "L"]}),
        ),
        "series_anomaly": Member(
            "boiler", "series_anomaly", _records(sensor_stream(seed=7).tail(5)), sensor_stream(seed=7)
        ),
    }
    train(
        {
            "task": "tabular_classification",
            "dataset_id": upload("line", table.to_csv(index=False).encode(), "line.csv"),
            "target": "failure",
            "model_name": "line",
            "time_budget_s": 2,
        }
    )
    series = {"asset_column": "unit", "time_column": "cycle"}
    train(
        {
            "task": "rul",
            "model_name": "pumps",
            "time_budget_s": 30,
            "options": {"max_epochs": 1},
            "dataset_id": upload(
                "pumps", histories(6, wear=True).to_csv(index=False).encode(), "p.csv", **series
            ),
        }
    )
    train(
        {
            "task": "anomaly",
            "model_name": "press",
            "time_budget_s": 30,
            "dataset_id": upload(
                "press", histories(3, wear=False).to_csv(index=False).encode(), "a.csv", **series
            ),
        }
    )
    train(
        {
            "task": "text_classification",
            "model_name": "orders",
            "target": "system",
            "options": {"candidates": ["tfidf"]},
            "dataset_id": upload("orders", orders().to_csv(index=False).encode(), "o.csv"),
        }
    )
    train(
        {
            "task": "series_anomaly",
            "model_name": "boiler",
            "options": {"sensitivity": 80},
            "dataset_id": upload("boiler", sensor_stream().to_csv(index=False).encode(), "s.csv"),
        }
    )
    images = {"good": 10, "scratched": 10}
    zipped = api.client.post(
        "/v1/datasets", headers=builder, files={"file": ("parts.zip", parts_zip(**images), "application/zip")}
    )
    assert zipped.status_code == 201, zipped.text
    image_set = zipped.json()["id"]
    train(
        {
            "task": "image_anomaly",
            "dataset_id": image_set,
            "model_name": "parts",
            "options": {"label_column": "label", "good_label": "good", "size": 32, "memory_size": 100},
        }
    )
    train(
        {
            "task": "image_classification",
            "dataset_id": image_set,
            "target": "label",
            "model_name": "inspect",
            "options": {"size": 32, "max_epochs": 1, "patience": 1, "stability_seeds": 0},
        }
    )
    sales = api.client.post(
        "/v1/datasets",
        files={"file": ("sales.csv", weekly_sales(), "text/csv")},
        data={"layout": "wide"},
        headers=builder,
    )
    assert sales.status_code == 201, sales.text
    train(
        {
            "task": "forecast",
            "dataset_id": sales.json()["id"],
            "model_name": "demand",
            "time_budget_s": 30,
            "options": {"horizon": 3, "candidates": ["theta"]},
        }
    )
    imported = api.client.post(
        "/v1/models/external/versions",
        headers=builder,
        data={"format": "lightgbm", "task": "tabular_classification", "input_schema": json.dumps(SCHEMA)},
        files={"file": ("model.txt", lightgbm_model(), "application/octet-stream")},
    )
    assert imported.status_code in (200, 201), imported.text
    return zoo

"""Training on very wide tables (2,048 numeric columns per row) ends near its time budget.

Raw vibration windows uploaded as a table: ``--rows`` rows (600 and 2,000 by default) of
``--cols`` float columns, a binary target that depends on three of them. Each table is
uploaded (Parquet) and trained as ``tabular_classification`` with each ``--budgets`` value
through the API in-process (``create_app`` on a scratch home; the job run in this process as
the runner would), and the model is scored on 2,000 fresh rows. Writes section
``train_wide`` of docs/benchmarks.md and ends with the job wall time per budget (the largest
over the tables) and the accuracies.

    .venv/bin/python bench/train_wide.py [--rows 600 2000] [--budgets 30 120] [--cols 2048]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import machine_info, write_section
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.jobs.runner import execute
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings

TARGET = "failure"


def table(rows: int, cols: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols)).astype(np.float32)
    frame = pd.DataFrame(X, columns=[f"v{i:04d}" for i in range(cols)])
    z = X[:, 3] + 0.8 * X[:, cols // 20] - 0.6 * X[:, cols // 2] + 0.3 * rng.normal(size=rows)
    frame[TARGET] = (z > 0).astype(int)
    return frame


def train_once(client: TestClient, settings: Settings, platform: Any, headers: dict[str, str],
               frame: pd.DataFrame, budget: float, name: str) -> dict[str, Any]:
    """Upload, train with ``budget`` and return the job's wall time and its report."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    answer = client.post(
        "/v1/datasets",
        files={"file": (f"{name}.parquet", buffer.getvalue(), "application/octet-stream")},
        data={"name": name},
        headers=headers,
    )
    answer.raise_for_status()
    body = {
        "task": "tabular_classification",
        "dataset_id": answer.json()["id"],
        "target": TARGET,
        "model_name": name,
        "time_budget_s": budget,
    }
    client.post("/v1/jobs", json=body, headers=headers).raise_for_status()
    job = platform.store.claim_job("bench:0")
    started = time.perf_counter()
    execute(settings, job.id)
    wall = time.perf_counter() - started
    done = platform.store.get_job(job.tenant, job.id)
    if done.status != "succeeded":
        raise SystemExit(f"job {job.id} {done.status}: {done.error}")
    loaded = platform.models.get("default", name, 1)
    return {"wall": wall, "report": loaded.version.report, "estimator": loaded.estimator}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[600, 2000])
    parser.add_argument("--budgets", type=float, nargs="+", default=[30, 120])
    parser.add_argument("--cols", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fresh = table(2000, args.cols, args.seed + 1000)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), max_upload_mb=500.0)
        platform = prepare(settings)
        key = issue_key(platform.store, platform.secret, tenant="default", role="admin").secret
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(settings, platform)) as client:
            for rows in args.rows:
                frame = table(rows, args.cols, args.seed)
                for budget in args.budgets:
                    name = f"wide-{rows}-{budget:g}"
                    out = train_once(client, settings, platform, headers, frame, budget, name)
                    pred = out["estimator"].predict_frame(fresh.drop(columns=[TARGET]))["prediction"]
                    report = out["report"]
                    results.append({
                        "rows": rows,
                        "budget": budget,
                        "wall": out["wall"],
                        "fit": report["budget"]["used_seconds"],
                        "holdout": report["metrics"]["accuracy"],
                        "fresh": float(np.mean(pred.to_numpy() == fresh[TARGET].to_numpy())),
                        "chosen": report["chosen"],
                        "cuts": report["budget"]["cuts"],
                    })
        platform.close()
    info = machine_info()
    lines = [
        "## Training on very wide tables (`bench/train_wide.py`)",
        "",
        f"Command: `.venv/bin/python bench/train_wide.py --rows {' '.join(map(str, args.rows))} "
        f"--budgets {' '.join(f'{b:g}' for b in args.budgets)} --cols {args.cols}`; {info['date']}, "
        f"{info['nproc']} cores ({info['cpu']}), load average {info['loadavg']}.",
        f"Synthetic vibration windows: {args.cols} float columns, a binary target depending on three; "
        "uploaded as Parquet and trained as `tabular_classification` through the API in-process; job "
        "wall time from claim to registered version; accuracy on the job's 20 % hold-out and on 2,000 "
        "fresh rows.",
        "",
        "| rows | budget (s) | job wall (s) | fit (s) | hold-out accuracy | fresh accuracy | chosen | cut |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        cut = "; ".join(f"{c['step']}: {c['message']}" for c in r["cuts"]).replace("|", "/")
        lines.append(
            f"| {r['rows']} | {r['budget']:g} | {r['wall']:.1f} | {r['fit']:.1f} | {r['holdout']:.4f} | "
            f"{r['fresh']:.4f} | `{r['chosen']}` | {cut} |"
        )
    write_section("train_wide", "\n".join(lines))
    for r in results:
        print(f"rows {r['rows']} budget {r['budget']:g}: job {r['wall']:.1f} s, hold-out accuracy "
              f"{r['holdout']:.4f}, fresh accuracy {r['fresh']:.4f}")
    for budget in args.budgets:
        acc = min(r["fresh"] for r in results if r["budget"] == budget)
        print(f"wide_accuracy_{budget:g}: {acc:.4f}")
    for budget in args.budgets:
        wall = max(r["wall"] for r in results if r["budget"] == budget)
        print(f"wide_train_seconds_{budget:g}: {wall:.1f}")


if __name__ == "__main__":
    main()

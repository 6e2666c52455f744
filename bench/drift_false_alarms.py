"""False alarms of the drift check on stable data, with the default window and thresholds.

For AI4I 2020 (tabular, ``Machine failure``) and the excavator work orders (text, ``MajorSystem``):
a model is trained on a random 70 % of the rows (as a training job does, its drift profile made by
the family's hooks), then many windows of ``WINDOW_ROWS`` rows are drawn at random from the 30 %
it never saw (the unchanged distribution) and each is checked like ``POST /v1/models/{name}/drift``
would (inputs, model outputs, embeddings, the inputs together; Holm over every test of the window).
A window that reports drift is a false alarm. Also timed: one check of a window, median.

Data from ../shared/data (``SHOPFLOOR_DATA_DIR`` overrides the folder). Writes section
``drift_false_alarms`` of docs/benchmarks.md and ends with the headline figures.

    .venv/bin/python bench/drift_false_alarms.py [--windows 200] [--text-windows 100]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import REPO, machine_info, write_section

from shopfloor.jobs.profiling import profile_of, window_of
from shopfloor.monitoring.report import drift_report
from shopfloor.monitoring.thresholds import WINDOW_ROWS, Thresholds
from shopfloor.tasks.catalog import make_estimator

AI4I_DROP = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
TEXT, LABEL = "OriginalShorttext", "MajorSystem"
TRAIN_SHARE = 0.7


def data_dir() -> Path:
    return Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(TRAIN_SHARE * len(frame))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)


def ai4i(seed: int) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(data_dir() / "ai4i2020" / "ai4i2020.csv").drop(columns=AI4I_DROP)
    train, held = split(frame, seed)
    model = make_estimator("tabular_classification", time_budget_s=60, seed=seed)
    model.fit(train, "Machine failure")
    return model, train, held.drop(columns=["Machine failure"])


def excavators(seed: int) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(data_dir() / "maintenance_text" / "excavators" / "excavators-cleaned.csv")
    frame = frame[[TEXT, LABEL]].dropna()
    counts = frame[LABEL].value_counts()
    frame = frame[frame[LABEL].isin(counts[counts >= 20].index)]
    train, held = split(frame, seed)
    # the frozen-encoder candidates (fine-tuning costs minutes and changes nothing of the check)
    model = make_estimator(
        "text_classification", candidates=["tfidf", "embedding", "combined"], time_budget_s=120, seed=seed
    ).fit(train, LABEL)
    return model, train, held.drop(columns=[LABEL])


def run(name: str, load: Callable[[int], tuple[Any, pd.DataFrame, pd.DataFrame]], windows: int,
        seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    model, train, held = load(seed)
    profile = profile_of(model, train, seed=seed)
    prepared = time.perf_counter() - started
    rng = np.random.default_rng(seed + 1)
    alarms, fired, seconds, tests = 0, Counter(), [], []
    for k in range(windows):
        rows = held.iloc[np.sort(rng.choice(len(held), WINDOW_ROWS, replace=False))]
        t0 = time.perf_counter()
        report = drift_report(profile, window_of(model, rows, seed=k), Thresholds(), seed=k)
        seconds.append(time.perf_counter() - t0)
        tests.append(report.tests)
        if report.drifted:
            alarms += 1
            fired.update(f.name for f in report.findings() if f.drifted)
        print(f"{name} window {k + 1}/{windows}: {'DRIFT ' + report.summary if report.drifted else 'ok'}",
              flush=True)
    return {
        "name": name,
        "task": model.task,
        "chosen": model.report_.get("chosen"),
        "train_rows": len(train),
        "held_rows": len(held),
        "windows": windows,
        "alarms": alarms,
        "rate": alarms / windows,
        "fired": dict(fired.most_common()),
        "tests": float(np.mean(tests)),
        "check_ms": 1000 * float(np.median(seconds)),
        "prepare_s": prepared,
        "profiled": [f.name for f in profile.features],
    }


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a rate of ``k`` in ``n``."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def section(results: list[dict[str, Any]], info: dict[str, str], command: str) -> str:
    defaults = Thresholds()
    lines = [
        "## Drift check: false alarms on stable data (`bench/drift_false_alarms.py`)",
        "",
        f"Command: `{command}`; {info['date']}, {info['nproc']} cores ({info['cpu']}), "
        f"load average {info['loadavg']}.",
        f"Defaults: windows of {WINDOW_ROWS} rows, family-wise alpha {defaults.alpha} (Holm over every "
        f"test of a window), min_distance {defaults.min_distance}. A model is trained on a random "
        f"{100 * TRAIN_SHARE:.0f} % of the rows (its profile made as a training job makes it); each "
        "window is drawn at random from the rows it never saw, so any drift reported is a false alarm.",
        "",
        "| data | model | windows | false alarms | rate (95 % interval) | tests per window | check, median |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lo, hi = wilson(r["alarms"], r["windows"])
        lines.append(
            f"| {r['name']} ({r['train_rows']} training rows, {r['held_rows']} unseen) | {r['task']} "
            f"`{r['chosen']}` | {r['windows']} | {r['alarms']} | {r['rate']:.3f} ({lo:.3f}-{hi:.3f}) | "
            f"{r['tests']:.1f} | {r['check_ms']:.0f} ms |"
        )
    total = sum(r["alarms"] for r in results)
    n = sum(r["windows"] for r in results)
    lines += ["", f"All windows: {total} false alarm{'' if total == 1 else 's'} in {n} ({total / n:.3f})."]
    for r in results:
        fired = ", ".join(f"{k} ({v})" for k, v in r["fired"].items()) or "none"
        lines.append(f"- {r['name']}: compared {', '.join(r['profiled'])}; tests that fired: {fired}.")
    lines += [
        "- The windows overlap (drawn from the same unseen rows) and share one profile, so they are "
        "not independent trials: the interval is indicative.",
        "- Holm bounds the chance of any false alarm in a window by alpha when the rows of a window are "
        "independent draws; rows that come in clusters (a few assets, one shift) move together and alarm "
        "more often: see docs/monitoring.md.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=200, help="AI4I windows")
    parser.add_argument("--text-windows", type=int, default=100, help="work-order windows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    command = (
        f".venv/bin/python bench/drift_false_alarms.py --windows {args.windows} "
        f"--text-windows {args.text_windows} --seed {args.seed}"
    )
    info = machine_info()
    results = [
        run("AI4I 2020", ai4i, args.windows, args.seed),
        run("excavator work orders", excavators, args.text_windows, args.seed),
    ]
    body = section(results, info, command)
    write_section("drift_false_alarms", body)
    print(body)
    total = sum(r["alarms"] for r in results)
    n = sum(r["windows"] for r in results)
    print(f"false_alarm_rate: {total / n:.4f}")
    print(f"windows: {n}")
    for r in results:
        key = "ai4i" if r["name"].startswith("AI4I") else "text"
        print(f"false_alarm_rate_{key}: {r['rate']:.4f}")
        print(f"check_ms_{key}: {r['check_ms']:.0f}")


if __name__ == "__main__":
    main()

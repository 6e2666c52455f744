"""One AI4I training run as a Dask job on 1 and on 2 single-thread workers: wall time of the fit and
of its fanned-out steps (model selection, stability refits), and whether the reports agree.

Fits ``TabularEstimator`` inside a Dask worker task (as a job of the Dask runner does, so that
:func:`shopfloor.parallel.fan_out` spreads candidates and stability refits over the cluster) on
a sample of src/shopfloor/examples/ai4i2020.csv, with ``OMP_NUM_THREADS=1`` everywhere, then
in-process for reference. Prints one line per run; nothing is written.

    .venv/bin/python bench/fanout_ai4i.py [--rows 3000] [--budget 60]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy and the workers start

import pandas as pd

EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
TARGET = "Machine failure"
CSV = Path(__file__).resolve().parents[1] / "src" / "shopfloor" / "examples" / "ai4i2020.csv"


def fit(frame: pd.DataFrame, budget: float) -> dict[str, Any]:
    from shopfloor.parallel import on_cluster
    from shopfloor.tasks.tabular.estimator import TabularEstimator

    stages: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(fraction: float, stage: str, message: str) -> None:
        stages.setdefault(stage, time.perf_counter() - t0)

    est = TabularEstimator(time_budget_s=budget, seed=0).fit(frame, TARGET, progress=progress)
    r = est.report_
    return {
        "cluster": on_cluster(),
        "fit_s": time.perf_counter() - t0,
        "selection_s": stages["threshold"] - stages["model selection"],
        "stability_s": stages["explanations/rules"] - stages["stability"],
        "candidates": [(c["name"], round(c["cv_score"], 6)) for c in r["candidates"]],
        "stability": r["stability"]["metrics"],
        "cuts": r["budget"]["cuts"],
    }


def show(label: str, out: dict[str, Any]) -> None:
    print(  # noqa: T201 - a benchmark's output
        f"{label}: fit {out['fit_s']:.1f} s, model selection {out['selection_s']:.1f} s, "
        f"stability {out['stability_s']:.1f} s, {len(out['candidates'])} candidates, "
        f"{len(out['cuts'])} cuts, on cluster {out['cluster']}"
    )


def main() -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--budget", type=float, default=60)
    args = parser.parse_args()
    whole = pd.read_csv(CSV, encoding="utf-8-sig")
    frame = whole.sample(n=min(args.rows, len(whole)), random_state=0).drop(columns=EXCLUDE)
    frame = frame.reset_index(drop=True)
    runs = {0: fit(frame, args.budget)}  # in-process first: the imports are warm for every run
    show("in-process", runs[0])
    for workers in (2, 1):
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            runs[workers] = client.submit(fit, frame, args.budget, pure=False).result()
        show(f"{workers} worker(s)", runs[workers])
    same = all(
        runs[w]["candidates"] == runs[0]["candidates"] and runs[w]["stability"] == runs[0]["stability"]
        for w in (1, 2)
    )
    print(f"reports agree with the in-process fit: {same}")  # noqa: T201


if __name__ == "__main__":
    main()

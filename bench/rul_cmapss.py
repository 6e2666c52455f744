"""Remaining-useful-life accuracy, interval coverage and timings on NASA C-MAPSS FD001.

Trains ``RulEstimator`` in-process with its defaults on train_FD001.txt (100 engines run
to failure), predicts the last cycle of each of the 100 truncated engines of test_FD001.txt
and compares with RUL_FD001.txt: RMSE against the true RUL capped at the estimator's cap
(the usual protocol) and uncapped, MAE, the PHM08 score, and the coverage of the 80 % and
95 % intervals. Data from ../shared/data/cmapss (``SHOPFLOOR_DATA_DIR`` overrides the folder).
Writes section ``rul_cmapss`` of docs/benchmarks.md and ends with the headline figures.

    .venv/bin/python bench/rul_cmapss.py [--budget 600] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import REPO, machine_info, write_section

from shopfloor.tasks.rul import metrics as R
from shopfloor.tasks.rul.estimator import RulEstimator

COLUMNS = ["unit", "cycle", "setting1", "setting2", "setting3", *(f"s{i}" for i in range(1, 22))]


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=r"\s+", header=None, names=COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data")) / "cmapss"
    train, test = read(folder / "train_FD001.txt"), read(folder / "test_FD001.txt")
    true = pd.read_csv(folder / "RUL_FD001.txt", sep=r"\s+", header=None).iloc[:, 0].to_numpy(float)

    est = RulEstimator(asset_column="unit", time_column="cycle", time_budget_s=args.budget, seed=args.seed)
    started = time.monotonic()
    est.fit(train, None)
    fit_s = time.monotonic() - started
    report = est.report_
    cap = float(est.cap) if est.cap is not None else float("inf")

    out = est.predict(test.to_dict("records"))
    if [o["asset"] for o in out] != list(range(1, 101)):
        raise RuntimeError("expected one estimate per test engine, in order")
    rul = np.array([o["rul"] for o in out])
    capped = np.minimum(true, cap)
    lo80, hi80 = (np.array([o["interval_80"][j] for o in out]) for j in (0, 1))
    lo95, hi95 = (np.array([o["interval_95"][j] for o in out]) for j in (0, 1))
    figures = {
        "rmse": R.rmse(capped, rul),
        "rmse_uncapped": R.rmse(true, rul),
        "mae": R.mae(capped, rul),
        "phm08_score": R.phm08_score(capped, rul),
        "phm08_score_uncapped": R.phm08_score(true, rul),
        "coverage_80": R.coverage(capped, lo80, hi80),
        "coverage_95": R.coverage(capped, lo95, hi95),
        "coverage_80_uncapped": R.coverage(true, lo80, hi80),
        "coverage_95_uncapped": R.coverage(true, lo95, hi95),
        "width_80": float(np.mean(hi80 - lo80)),
        "width_95": float(np.mean(hi95 - lo95)),
    }

    # one request per engine with its last `window` cycles, as a monitoring client would send
    requests = [g.tail(est.window).to_dict("records") for _, g in test.groupby("unit", sort=False)]
    est.predict(requests[0])
    t = time.perf_counter()
    for records in requests:
        est.predict(records)
    latency_ms = (time.perf_counter() - t) / len(requests) * 1e3
    t = time.perf_counter()
    explained = [est.explain(records)[0] for records in requests[:20]]
    explain_ms = (time.perf_counter() - t) / len(explained) * 1e3
    additivity = max(abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) for e in explained)
    top = pd.Series([next(iter(e["contributions"])) for e in explained]).value_counts().head(3)

    info, held = machine_info(), report["metrics"]
    blend = next((c.get("weights") for c in report["candidates"] if c["name"] == report["chosen"]), None)
    weights = f" (LightGBM {blend['lightgbm']:g}, CNN {blend['cnn']:g})" if blend else ""
    cnn_seconds = sum(f.get("cnn", {}).get("seconds", 0.0) for f in report["training"])
    lines = [
        "## Remaining useful life on C-MAPSS FD001 (`bench/rul_cmapss.py`)",
        "",
        f"Command: `.venv/bin/python bench/rul_cmapss.py --budget {args.budget:g} --seed {args.seed}`; "
        f"{info['date']}, {info['nproc']} cores ({info['cpu']}), load average {info['loadavg']}.",
        f"`RulEstimator` defaults (cap {est.cap:g}, window {est.window}, all candidates) trained on "
        "train_FD001 (100 engines run to failure); scored on the last cycle of the 100 test_FD001 engines "
        f"against RUL_FD001. Chosen: `{report['chosen']}`{weights}; sensors kept: "
        f"{', '.join(report['series']['sensors'])}; min_points {report['series']['min_points']}.",
        "",
        "| figure | test_FD001 (100 engines) | cross-validated, held-out train assets |",
        "|---|---:|---:|",
        f"| RMSE vs RUL capped at {est.cap:g} | {figures['rmse']:.2f} | {held['rmse']:.2f} |",
        f"| RMSE vs true RUL (uncapped) | {figures['rmse_uncapped']:.2f} | |",
        f"| MAE (capped) | {figures['mae']:.2f} | {held['mae']:.2f} |",
        f"| PHM08 score (capped; uncapped) | {figures['phm08_score']:.1f}; "
        f"{figures['phm08_score_uncapped']:.1f} | {held['phm08_score']:.1f} |",
        f"| 80 % interval coverage (capped; uncapped) | {figures['coverage_80']:.2f}; "
        f"{figures['coverage_80_uncapped']:.2f} | {held['coverage_80']:.2f} |",
        f"| 95 % interval coverage (capped; uncapped) | {figures['coverage_95']:.2f}; "
        f"{figures['coverage_95_uncapped']:.2f} | {held['coverage_95']:.2f} |",
        f"| mean interval width 80 % / 95 % | {figures['width_80']:.1f} / {figures['width_95']:.1f} | "
        f"{held['width_80']:.1f} / {held['width_95']:.1f} |",
        "",
        "| candidate | cross-validated RMSE | cross-validated MAE | fit seconds (all folds) |",
        "|---|---:|---:|---:|",
    ]
    for c in report["candidates"]:
        lines.append(f"| {c['name']}{' (chosen)' if c['name'] == report['chosen'] else ''} | "
                     f"{c['metrics']['rmse']:.2f} | {c['metrics']['mae']:.2f} | {c['fit_seconds']:.1f} |")
    stab = report["stability"]
    lines += [
        "",
        f"- Held-out protocol: {report['evaluation']}",
        f"- Stability: {stab['method']}; RMSE {stab['metrics']['rmse']['mean']:.2f} ± "
        f"{stab['metrics']['rmse']['std']:.2f} (n = {stab['n']}).",
        f"- Train time {fit_s:.1f} s for the whole fit (all candidates, {stab['n']} folds; budget "
        f"{args.budget:g} s), of which the CNN {cnn_seconds:.1f} s.",
        f"- Predict latency {latency_ms:.1f} ms per asset (one request with its last {est.window} cycles, "
        f"in-process); explain {explain_ms:.0f} ms per asset ({explained[0]['method']}).",
        f"- Explanations of 20 test engines: largest |base + sum(contributions) - output| "
        f"{additivity:.3f} cycles; most frequent top sensor: "
        + ", ".join(f"{name} ({count})" for name, count in top.items()) + ".",
    ]
    write_section("rul_cmapss", "\n".join(lines))
    print(f"fd001_rmse: {figures['rmse']:.2f}")
    print(f"fd001_coverage80: {figures['coverage_80']:.2f}")
    print(f"train_seconds: {fit_s:.1f}")


if __name__ == "__main__":
    main()

"""Accuracy, stability, explanation and rule figures of the AI4I 2020 failure model.

Trains ``TabularEstimator`` in-process on ../shared/data/ai4i2020/ai4i2020.csv
(``SHOPFLOOR_DATA_DIR`` overrides the folder) for target ``Machine failure`` with
UDI, Product ID and the five failure-mode columns excluded, then reports the
held-out metrics, their spread over seeds, SHAP additivity, rule fidelity, fit
time and single-record predict latency. Writes section ``train_tabular`` of
docs/benchmarks.md and ends with the headline figures.

    .venv/bin/python bench/train_tabular.py [--budget 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
from _common import REPO, machine_info, write_section

from shopfloor.tasks.tabular.estimator import TabularEstimator

EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
TARGET = "Machine failure"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))
    frame = pd.read_csv(data / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig").drop(columns=EXCLUDE)
    started = time.monotonic()
    est = TabularEstimator(kind="classification", time_budget_s=args.budget, seed=args.seed)
    est.fit(frame, TARGET)
    fit_s = time.monotonic() - started
    report = est.report_
    m, stab = report["metrics"], report["stability"]["metrics"]
    rows = frame.drop(columns=[TARGET]).sample(200, random_state=0).to_dict("records")
    explained = est.explain(rows)
    additivity = max(abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) for e in explained)
    n, t = 2000, time.perf_counter()
    for i in range(n):
        est.predict([rows[i % len(rows)]])
    predict_us = (time.perf_counter() - t) / n * 1e6
    rules = report["rules"]
    info = machine_info()
    constructed = report["features"]["constructed"]
    lines = [
        "## Tabular training on AI4I 2020 (`bench/train_tabular.py`)",
        "",
        f"Command: `.venv/bin/python bench/train_tabular.py --budget {args.budget:g} --seed {args.seed}`; "
        f"{info['date']}, {info['nproc']} cores ({info['cpu']}), load average {info['loadavg']}.",
        f"Target `{TARGET}`, excluded {', '.join(EXCLUDE)}; stratified 20 % hold-out (2,000 rows, "
        f"{sum(m['confusion_matrix'][1])} failures). Chosen: `{report['chosen']}`; "
        "constructed features kept: " + ", ".join(f"`{c['name']}`" for c in constructed) + ".",
        "",
        "| metric | hold-out | mean ± std over seeds |",
        "|---|---:|---:|",
    ]
    for name in ("f1", "pr_auc", "roc_auc", "precision", "recall", "balanced_accuracy", "brier"):
        mean, std = stab.get(name, {}).get("mean", float("nan")), stab.get(name, {}).get("std", float("nan"))
        lines.append(f"| {name} | {m[name]:.4f} | {mean:.4f} ± {std:.4f} |")
    lines += [
        "",
        f"- Stability: {report['stability']['method']} (n = {report['stability']['n']}).",
        f"- SHAP additivity, max over 200 records: {additivity:.2e} (target ≤ 1e-6).",
        f"- Rules: fidelity {rules['fidelity']:.4f}, per-class (balanced) fidelity "
        f"{rules.get('balanced_fidelity') or float('nan'):.4f}, depth {rules['depth']}, "
        f"{len(rules['rules'])} rules.",
        f"- Fit time {fit_s:.1f} s (budget {args.budget:g} s); single-record predict "
        f"{predict_us:.0f} µs in-process.",
    ]
    write_section("train_tabular", "\n".join(lines))
    print(f"f1: {m['f1']:.4f}")
    print(f"pr_auc: {m['pr_auc']:.4f}")
    print(f"rules_fidelity: {rules['fidelity']:.4f}")
    print(f"shap_additivity: {additivity:.2e}")
    print(f"fit_seconds: {fit_s:.1f}")


if __name__ == "__main__":
    main()

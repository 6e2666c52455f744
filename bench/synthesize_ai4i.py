"""Utility, fidelity and privacy of a synthetic copy of AI4I 2020 (Gaussian copula).

Runs the same code as ``POST /v1/datasets/{id}/synthesize`` in-process on
../shared/data/ai4i2020/ai4i2020.csv (``SHOPFLOOR_DATA_DIR`` overrides), target
``Machine failure``, failure-mode columns left out. Writes section ``synthesize`` of
docs/benchmarks.md and ends with the headline figures.

    .venv/bin/python bench/synthesize_ai4i.py [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
from _common import REPO, machine_info, write_section

from shopfloor.data.profile import column_types, profile_frame
from shopfloor.data.synth_report import synthesize_with_report

TARGET = "Machine failure"
EXCLUDE = ["TWF", "HDF", "PWF", "OSF", "RNF"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))
    frame = pd.read_csv(data / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig").drop(columns=EXCLUDE)
    types = column_types(profile_frame(frame))
    started = time.monotonic()
    _, report = synthesize_with_report(frame, types, len(frame), target=TARGET, seed=args.seed)
    seconds = time.monotonic() - started
    u, p, f = report["utility"], report["privacy"], report["fidelity"]
    worst = max(f["columns"].items(), key=lambda kv: kv[1]["value"])
    info = machine_info()
    lines = [
        "## Synthetic copy of AI4I 2020 (`bench/synthesize_ai4i.py`)",
        "",
        f"Command: `.venv/bin/python bench/synthesize_ai4i.py --seed {args.seed}`; {info['date']}, "
        f"{info['nproc']} cores. Gaussian copula fitted on 80 % of the real rows (one copula per class of "
        f"`{TARGET}`), {len(frame)} synthetic rows; utility model {u['model']} tested on the same "
        f"{u['n_test']} held-back real rows; failure-mode columns left out; {seconds:.1f} s.",
        "",
        "| trained on | ROC-AUC | F1 |",
        "|---|---:|---:|",
        f"| real rows | {u['real']['roc_auc']:.4f} | {u['real']['f1']:.4f} |",
        f"| synthetic rows | {u['synthetic']['roc_auc']:.4f} | {u['synthetic']['f1']:.4f} |",
        "",
        "| distance to the closest real training row | min | 5th percentile | median |",
        "|---|---:|---:|---:|",
        "| synthetic rows | {min:.4f} | {p5:.4f} | {median:.4f} |".format(**p["dcr_synthetic"]),
        "| held-back real rows | {min:.4f} | {p5:.4f} | {median:.4f} |".format(**p["dcr_holdout_real"]),
        "",
        f"- Real rows reproduced: {p['reproduced_rows']}. Distance: {p['distance']}.",
        f"- Fidelity: largest marginal distance {worst[1]['value']:.4f} "
        f"({worst[1]['metric']}, `{worst[0]}`); "
        f"largest correlation difference {f['correlation_max_abs_diff']:.4f}.",
    ]
    write_section("synthesize", "\n".join(lines))
    print(f"roc_auc_real: {u['real']['roc_auc']:.4f}")
    print(f"roc_auc_synthetic: {u['synthetic']['roc_auc']:.4f}")
    print(f"reproduced_rows: {p['reproduced_rows']}")
    print(f"dcr_min: {p['dcr_synthetic']['min']:.4f}")


if __name__ == "__main__":
    main()

"""Weekly demand of 811 products: the chosen forecaster against seasonal naive and AutoETS alone.

Data: ../shared/data/sales_weekly/Sales_Transactions_Dataset_Weekly.csv (``SHOPFLOOR_DATA_DIR``
overrides the folder), a wide table converted to long form as an upload with ``layout=wide`` is
(W0..W51; MIN, MAX and the normalised copies left out). The last 8 weeks (W44..W51) are held out.
The ``forecast`` estimator runs its rolling-origin backtest (3 windows of 8 weeks) on W0..W43,
chooses its model, and forecasts the 8 held-out weeks with 80 % and 95 % conformal intervals.
Seasonal naive and AutoETS alone are fitted on the same weeks. MASE uses each product's in-sample
mean absolute one-week difference (52 weeks hold less than two yearly seasons, so the season is 1).
Writes section ``forecast_sales`` of docs/benchmarks.md and ends with the headline figures.

    .venv/bin/python bench/forecast_sales.py [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import REPO, machine_info, write_section

from shopfloor.data.wide import to_long
from shopfloor.tasks.forecast import backtest as B
from shopfloor.tasks.forecast import candidates as C
from shopfloor.tasks.forecast import metrics as FM
from shopfloor.tasks.forecast.estimator import Forecaster

DATA = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))
FILE = DATA / "sales_weekly" / "Sales_Transactions_Dataset_Weekly.csv"
HOLDOUT = 8


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=900, help="training time budget in seconds")
    args = parser.parse_args()
    long, conversion = to_long(pd.read_csv(FILE))
    train = long[long["period"] < 52 - HOLDOUT]
    truth = long[long["period"] >= 52 - HOLDOUT].pivot(index="Product_Code", columns="period", values="value")

    t0 = time.perf_counter()
    est = Forecaster(
        series_column="Product_Code", time_column="period", value_column="value", horizon=HOLDOUT,
        time_budget_s=args.budget,
    )  # fmt: skip
    est.fit(train, progress=lambda f, s, m: print(f"{f:5.2f} {s}: {m}", flush=True))
    fit_s = time.perf_counter() - t0
    ids = est.ids_
    y = truth.loc[ids].to_numpy(dtype=float)
    histories = [train[train["Product_Code"] == k]["value"].to_numpy(dtype=float) for k in ids]
    scale = B.scales_of(histories, 1)
    answer = est.forecast("all", HOLDOUT, [80, 95])
    ours = np.array([f["forecast"] for f in answer])
    lo80 = np.array([f["intervals"]["80"]["lower"] for f in answer])
    hi80 = np.array([f["intervals"]["80"]["upper"] for f in answer])
    lo95 = np.array([f["intervals"]["95"]["lower"] for f in answer])
    hi95 = np.array([f["intervals"]["95"]["upper"] for f in answer])
    ctx = C.Context(season=1)
    t1 = time.perf_counter()
    refs = C.run(["seasonal_naive", "auto_ets"], histories, HOLDOUT, ctx)
    ref_s = time.perf_counter() - t1
    ours_m = FM.summary(y, ours, scale)
    naive_m = FM.summary(y, np.maximum(refs["seasonal_naive"], 0), scale)
    ets_m = FM.summary(y, np.maximum(refs["auto_ets"], 0), scale)
    cov80, cov95 = FM.coverage(y, lo80, hi80), FM.coverage(y, lo95, hi95)
    report = est.report_
    info = machine_info()
    rows = [
        f"| `{c['name']}` | {c['mase']:.4f} | {c['smape']:.2f} | {c['relative_mase']:.3f} |"
        for c in report["candidates"]
    ]
    steps = " / ".join(f"{v:.3f}" for v in ours_m["mase_by_step"])
    lines = [
        "## Demand forecasting, weekly sales (`bench/forecast_sales.py`)",
        "",
        f"Command: `.venv/bin/python bench/forecast_sales.py --budget {args.budget:.0f}`; {info['date']}, "
        f"{info['nproc']} cores ({info['cpu']}), load average {info['loadavg']}.",
        f"{conversion['rows']['wide']} products x {conversion['period_columns']['count']} weeks (wide table "
        f"converted to {conversion['rows']['long']:,} long rows; "
        f"{len(conversion['dropped_columns'])} derived columns left out). "
        f"Training weeks W0..W{51 - HOLDOUT}, held out W{52 - HOLDOUT}..W51. "
        f"Demand classes: {report['series']['demand_classes']}.",
        "",
        f"Backtest on the training weeks ({report['backtest']['windows']} rolling origins, "
        f"{HOLDOUT}-week horizon); chosen: `{report['chosen']}`"
        + (f" (mean of {', '.join(report['ensemble_members'])})" if report["chosen"] == "ensemble" else "")
        + ".",
        "",
        "| candidate | backtest MASE | backtest sMAPE | MASE / seasonal naive |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Backtest interval coverage (each window's interval from the other windows' errors): "
        f"80 %: {report['metrics']['coverage']['80']:.3f}, 95 %: {report['metrics']['coverage']['95']:.3f}.",
        "",
        "Held-out 8 weeks:",
        "",
        "| model | MASE | sMAPE |",
        "|---|---|---|",
        f"| chosen (`{report['chosen']}`) | {ours_m['mase']:.4f} | {ours_m['smape']:.2f} |",
        f"| seasonal naive (last week) | {naive_m['mase']:.4f} | {naive_m['smape']:.2f} |",
        f"| AutoETS alone | {ets_m['mase']:.4f} | {ets_m['smape']:.2f} |",
        "",
        f"Chosen model's MASE per week ahead: {steps}. Interval coverage on the held-out weeks: 80 %: "
        f"{cov80:.3f}, 95 %: {cov95:.3f}. Training (backtest and refit) {fit_s:.0f} s with a "
        f"{args.budget:.0f} s budget; seasonal naive and AutoETS refits {ref_s:.0f} s.",
        *(
            ["", "Notes: " + "; ".join(w["message"] for w in report["warnings"])]
            if report["warnings"]
            else []
        ),
    ]
    write_section("forecast_sales", "\n".join(lines))
    print("\n".join(lines))
    print(f"mase: {ours_m['mase']:.4f}")
    print(f"mase_seasonal_naive: {naive_m['mase']:.4f}")
    print(f"mase_autoets: {ets_m['mase']:.4f}")
    print(f"coverage80: {cov80:.4f}")


if __name__ == "__main__":
    main()

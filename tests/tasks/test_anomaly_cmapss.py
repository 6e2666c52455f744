"""Acceptance on C-MAPSS FD001: engines flagged before failure, few false alarms while healthy.

20 of the 100 engines are held out (seeded choice); the model learns from the first 60 % of each
other engine's life (no labels) and scores the held-out full lives. An engine counts as detected
when an event starts in the last 40 % of its life (cycle > 0.6 x its last cycle) and before its
last cycle; false alarms are the share of points flagged in the first 60 % of the held-out lives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor.tasks.anomaly.estimator import AnomalyEstimator

COLUMNS = ["unit", "cycle", "setting1", "setting2", "setting3", *(f"s{i}" for i in range(1, 22))]
HEALTHY = 0.6


@pytest.fixture(scope="module")
def fd001(data_dir: Path) -> pd.DataFrame:
    path = data_dir / "cmapss" / "train_FD001.txt"
    if not path.exists():
        pytest.skip(f"C-MAPSS data not found at {path}")
    frame = pd.read_csv(path, sep=r"\s+", header=None, names=COLUMNS)
    return frame.assign(life=frame.groupby("unit")["cycle"].transform("max"))


def test_engines_detected_before_failure_with_few_false_alarms(fd001: pd.DataFrame) -> None:
    held = np.random.default_rng(0).choice(np.sort(fd001["unit"].unique()), 20, replace=False)
    rest, test = fd001[~fd001["unit"].isin(held)], fd001[fd001["unit"].isin(held)]
    train = rest[rest["cycle"] <= HEALTHY * rest["life"]].drop(columns="life")
    est = AnomalyEstimator(asset_column="unit", time_column="cycle").fit(train)
    assert est.report_["chosen"] == "mahalanobis"
    assert {"s1", "s5", "s10", "s16", "s18", "s19", "setting3"}.isdisjoint(est.report_["series"]["sensors"])

    scored = test.assign(**est.predict_frame(test.drop(columns="life"))[["anomaly_flag", "event"]])
    healthy = scored["cycle"] <= HEALTHY * scored["life"]
    detected, early_events = 0, 0
    for _, engine in scored.groupby("unit"):
        life = engine["life"].iloc[0]
        starts = engine.dropna(subset=["event"]).groupby("event")["cycle"].min()
        detected += bool(((starts > HEALTHY * life) & (starts < life)).any())
        early_events += int((starts <= HEALTHY * life).sum())
    assert detected / 20 >= 0.9
    assert scored.loc[healthy, "anomaly_flag"].mean() < 0.02
    assert early_events <= 5

    # one engine streamed point by point gives the batch scores and events
    engine = test[test["unit"] == held[0]].drop(columns="life").to_dict("records")
    states: dict[str, dict] = {}
    points, events = [], {}
    for record in engine:
        (result,), states = est.score_stream([record], states)
        points += result["points"]
        events.update({e["start"]: e for e in result["events"]})
    (whole,) = est.predict(engine)
    assert points == whole["points"] and list(events.values()) == whole["events"]

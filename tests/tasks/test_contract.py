"""The shared contract every task family must pass (fit, report, predict, explain, save/load)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import NotFitted
from shopfloor.tasks import catalog
from shopfloor.tasks.base import Estimator


def _tabular_frame(kind: str) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(0)
    n = 300
    a, b = rng.normal(size=n), rng.normal(size=n)
    grade = rng.choice(["L", "M", "H"], size=n)
    frame = pd.DataFrame({"a [K]": a, "b (x)": b, "grade": grade, "flag": rng.random(n) > 0.5})
    signal = a * b + (grade == "H") + 0.3 * rng.normal(size=n)
    frame["y"] = (signal > 0.3).astype(int) if kind == "classification" else signal
    frame.loc[::17, "a [K]"] = np.nan
    return frame, "y"


DATA = {
    "tabular_classification": lambda: _tabular_frame("classification"),
    "tabular_regression": lambda: _tabular_frame("regression"),
}


@pytest.fixture(scope="module", params=catalog.tasks())
def fitted(request: pytest.FixtureRequest) -> tuple[str, Any, pd.DataFrame, str]:
    task = request.param
    assert task in DATA, f"add a small synthetic data set for {task} to the contract suite"
    frame, target = DATA[task]()
    est = catalog.make_estimator(task, time_budget_s=10, seed=0)
    stages: list[tuple[float, str]] = []
    out = est.fit(frame, target, progress=lambda f, s, m: stages.append((f, s)))
    assert out is est
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)
    assert stages[-1][0] == 1.0
    return task, est, frame, target


def test_not_fitted_raises() -> None:
    for task in catalog.tasks():
        est = catalog.make_estimator(task)
        with pytest.raises(NotFitted):
            est.predict([{}])
        with pytest.raises(NotFitted):
            est.explain([{}])
        with pytest.raises(NotFitted):
            est.save()


def test_protocol_and_report(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    task, est, _, _ = fitted
    assert isinstance(est, Estimator)
    assert est.task == task
    assert est.report_["metrics"]
    json.dumps(est.report_)
    names = [c["name"] for c in est.input_schema_]
    assert names and all({"name", "type"} <= set(c) for c in est.input_schema_)
    assert "y" not in names


def test_predict_and_explain_shapes(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    _, est, frame, target = fitted
    records = frame.drop(columns=[target]).head(5).to_dict("records")
    preds = est.predict(records)
    assert len(preds) == 5 and all("warnings" in p for p in preds)
    expl = est.explain(records[:2])
    assert len(expl) == 2 and all("contributions" in e for e in expl)
    assert est.predict([]) == []


def test_save_load_round_trip(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    task, est, frame, target = fitted
    files = est.save()
    assert all(isinstance(v, bytes) for v in files.values())
    again = catalog.estimator_class(task).load(files)
    records = frame.drop(columns=[target]).head(20).to_dict("records")
    assert again.predict(records) == est.predict(records)
    assert again.explain(records[:3]) == est.explain(records[:3])
    assert again.report_ == json.loads(json.dumps(est.report_))

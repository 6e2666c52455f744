"""The retraining gate's checks and decision, on models whose scores are known in advance."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import InvalidInput, RegistryUnavailable
from shopfloor.jobs.gate import MIN_LIVE_RECORDS, NOT_AVAILABLE, RESAMPLES, evaluate
from shopfloor.jobs.live import LabelledRecords, NoLiveData
from shopfloor.registry.entities import ModelVersion
from shopfloor.tasks.base import BaseEstimator
from shopfloor.tasks.compare import Compared, Incomparable, NewData, Paired

CREATED = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


class Scored(BaseEstimator):
    """A fitted model stand-in: ``metric`` on held-out rows and on live rows (told apart by a
    column only live rows have), and the rows it held out."""

    task = "tabular_classification"

    def __init__(
        self, held: float, live: float = math.nan, metric: str = "f1", holdout: Any = None, jitter: float = 0
    ) -> None:
        self.held, self.live, self.metric, self.jitter = held, live, metric, jitter
        self._holdout = np.arange(10, 20) if holdout is None else holdout
        self.report_ = {"metric": metric, "target": "y", "stability": {}}
        self.scored: list[int] = []  # the rows of each call of the scorer (resamples too)

    def holdout_rows(self) -> Any:
        return self._holdout

    def row_scorer(self, frame: pd.DataFrame, target: str) -> Any:
        assert target == "y"
        live, x = "live" in frame.columns, frame["x"].to_numpy(float)

        def scores(take: np.ndarray) -> dict[str, float]:
            self.scored.append(len(take))
            if live:
                return {self.metric: self.live}
            # ``jitter``: the score moves with which rows are scored (resampled rows differ)
            return {self.metric: self.held + self.jitter * (float(x[take].mean()) - 14.5)}

        return scores


def _version(std: float | None = 0.02, splits: int = 5, metric: str = "f1") -> ModelVersion:
    spread = {metric: {"std": std, "values": [0.7] * splits}}
    stability = {} if std is None else {"n": splits, "metrics": spread}
    return ModelVersion(
        tenant="t", model="m", version=1, task="tabular_classification", status="ready",
        report={"metric": metric, "stability": stability}, input_schema=[], files={}, artifact="a",
        lineage={}, job_id="j", created_at=CREATED, aliases=("production",),
    )  # fmt: skip


FRAME = pd.DataFrame({"x": range(20), "y": [0, 1] * 10})
UNSEEN = np.zeros(20, dtype=bool)


class Live:
    def __init__(self, n: int, unlabelled: int = 0) -> None:
        self.n, self.unlabelled = n, unlabelled
        self.asked: list[tuple[str, str, datetime | None]] = []

    def labelled(self, tenant: str, model: str, since: datetime | None) -> LabelledRecords | None:
        self.asked.append((tenant, model, since))
        inputs = pd.DataFrame({"x": range(self.n + self.unlabelled), "live": 1})
        outcomes = [0, 1] * (self.n // 2) + [None] * self.unlabelled  # feedback not given yet
        return LabelledRecords(inputs, pd.Series(outcomes, dtype=object))


def _gate(
    challenger: Scored,
    champion: Scored,
    version: ModelVersion | None = None,
    seen: np.ndarray = UNSEEN,
    source: Any = None,
) -> dict[str, Any]:
    return evaluate(challenger, champion, version or _version(), FRAME, seen, source or NoLiveData())


def test_a_clear_improvement_passes_on_held_out_data_alone() -> None:
    gate = _gate(Scored(0.9), Scored(0.7))
    assert gate["passed"] is True
    held = gate["checks"]["held_out"]
    assert held == {
        "passed": True, "comparable": True, "metric": "f1", "challenger": 0.9, "champion": 0.7,
        "improvement": 0.2, "rows": 10, "unit": "rows", "left_out": 0,
        "figures": {"challenger": {"f1": 0.9}, "champion": {"f1": 0.7}},
        "message": "held-out: On 10 held-out rows of the new data, f1 is 0.9000 for the new version and "
        "0.7000 for version 1 (production): better by 0.2000.",
    }  # fmt: skip
    assert gate["checks"]["live"]["message"] == NOT_AVAILABLE == "live: not available (no labelled live data)"
    assert gate["checks"]["stability"] == {
        "passed": True, "metric": "f1", "band": 0.02, "splits": 5, "improvement": 0.2, "resampled": 0.0,
        "resamples": RESAMPLES,
        "message": "stability: the held-out improvement (0.2000) exceeds the stability band of version 1 "
        "(production) (f1 spread 0.0200 over 5 seeded splits) and the spread of the improvement over "
        f"{RESAMPLES} resamples of the 10 held-out rows of the new data (0.0000).",
    }  # fmt: skip
    assert gate["summary"] == (
        "Gate passed: the new version beats version 1 (production) on held-out data alone "
        "(live: not available (no labelled live data)), by more than the stability band."
    )


def test_an_improvement_within_the_stability_band_does_not_pass() -> None:
    gate = _gate(Scored(0.715), Scored(0.70), _version(std=0.04))
    held, band = gate["checks"]["held_out"], gate["checks"]["stability"]
    assert held["passed"] is True and band["passed"] is False and gate["passed"] is False
    assert band["band"] == 0.04 and band["improvement"] == pytest.approx(0.015)
    assert "(0.0150) is within the stability band of version 1 (production)" in band["message"]
    assert "cannot be told from noise" in band["message"] and band["message"] in gate["summary"]


def test_a_worse_model_fails_and_says_by_how_much() -> None:
    gate = _gate(Scored(0.55), Scored(0.70))
    held = gate["checks"]["held_out"]
    assert held["passed"] is False and held["improvement"] == pytest.approx(-0.15)
    assert held["message"].endswith("worse by 0.1500.")
    assert gate["checks"]["stability"]["message"].startswith("stability: no held-out improvement")
    assert gate["summary"].startswith("Gate failed: the new version does not replace version 1 (production).")


def test_an_error_metric_improves_downwards() -> None:
    gate = _gate(Scored(2.0, metric="rmse"), Scored(3.0, metric="rmse"), _version(std=0.5, metric="rmse"))
    assert gate["greater_is_better"] is False and gate["passed"] is True
    assert gate["checks"]["held_out"]["improvement"] == 1.0
    worse = _gate(Scored(3.0, metric="rmse"), Scored(2.0, metric="rmse"), _version(std=0.5, metric="rmse"))
    assert worse["checks"]["held_out"]["improvement"] == -1.0 and worse["passed"] is False


def test_rows_the_champion_learnt_from_are_left_out_of_the_comparison() -> None:
    challenger, champion = Scored(0.9), Scored(0.7)
    seen = np.zeros(20, dtype=bool)
    seen[10:14] = True  # four held-out rows come from the champion's own training data
    held = _gate(challenger, champion, seen=seen)["checks"]["held_out"]
    assert (held["rows"], held["left_out"]) == (6, 4)
    assert challenger.scored == champion.scored == [6] * (1 + RESAMPLES)  # the rows, then resamples of them
    assert held["message"].endswith(
        " 4 more held-out rows come from the data version 1 (production) was trained on and are left out."
    )
    everything = _gate(Scored(0.9), Scored(0.7), seen=np.ones(20, dtype=bool))
    assert everything["passed"] is False
    assert "all 10 held-out rows come from the data version 1 (production) was" in everything["summary"]


def test_live_data_must_be_beaten_too_where_there_is_enough() -> None:
    source = Live(MIN_LIVE_RECORDS)
    gate = _gate(Scored(0.9, live=0.6), Scored(0.7, live=0.8), source=source)
    live = gate["checks"]["live"]
    assert source.asked == [("t", "m", CREATED)]
    assert live["available"] is True and live["passed"] is False and live["rows"] == MIN_LIVE_RECORDS
    assert live["message"] == (
        f"live: On {MIN_LIVE_RECORDS} labelled live records since 2026-03-01T06:00:00+00:00, f1 is 0.6000 "
        "for the new version and 0.8000 for version 1 (production): worse by 0.2000."
    )
    assert gate["passed"] is False and live["message"] in gate["summary"]
    better = _gate(Scored(0.9, live=0.85), Scored(0.7, live=0.8), source=Live(40))
    assert better["passed"] is True and "on held-out and live data" in better["summary"]


def test_too_few_live_records_or_an_unreadable_log_leave_the_decision_to_held_out_data() -> None:
    few = _gate(Scored(0.9, live=0.1), Scored(0.7, live=0.9), source=Live(4, unlabelled=30))
    assert few["passed"] is True
    assert few["checks"]["live"]["message"] == (
        f"live: not available (4 labelled live records since 2026-03-01T06:00:00+00:00; at least "
        f"{MIN_LIVE_RECORDS} are needed)"
    )

    class Broken:
        def labelled(self, tenant: str, model: str, since: datetime | None) -> LabelledRecords | None:
            raise RegistryUnavailable("the registry database is not reachable or busy; try again")

    broken = _gate(Scored(0.9), Scored(0.7), source=Broken())
    assert broken["passed"] is True and broken["checks"]["live"]["available"] is False
    assert "could not be read: the registry database is not reachable" in broken["checks"]["live"]["message"]

    class Unscorable(Scored):
        def row_scorer(self, frame: pd.DataFrame, target: str) -> Any:
            if "live" in frame.columns:
                raise InvalidInput("the records lack input column 'x'")
            return super().row_scorer(frame, target)

    odd = _gate(Unscorable(0.9), Unscorable(0.7), source=Live(30))
    assert odd["passed"] is True and "could not be scored: the records lack input column 'x'" in str(odd)


def test_an_improvement_within_the_noise_of_a_small_hold_out_does_not_pass() -> None:
    """Beyond the champion's band, but the improvement swings more than that with which of the
    ten held-out rows are drawn: it cannot be told from noise."""
    gate = _gate(Scored(0.9, jitter=0.3), Scored(0.7))
    band = gate["checks"]["stability"]
    assert gate["checks"]["held_out"]["passed"] and band["passed"] is False and gate["passed"] is False
    assert band["band"] == 0.02 and band["resampled"] > band["improvement"] == 0.2
    assert band["message"] == (
        "stability: the held-out improvement (0.2000) exceeds the stability band of version 1 (production) "
        f"(f1 spread 0.0200 over 5 seeded splits) but not the spread of the improvement over {RESAMPLES} "
        f"resamples of the 10 held-out rows of the new data ({band['resampled']:.4f}): it cannot be told "
        "from noise."
    )


def test_without_a_stability_band_in_either_report_the_resamples_decide() -> None:
    quiet = _gate(Scored(0.9), Scored(0.7), _version(std=None))["checks"]["stability"]
    assert quiet["passed"] is True and "band" not in quiet and quiet["resampled"] == 0.0
    noisy = _gate(Scored(0.9, jitter=0.3), Scored(0.7), _version(std=None))["checks"]["stability"]
    assert noisy["passed"] is False and noisy["message"].startswith(
        "stability: the held-out improvement (0.2000) is within the spread of the improvement over"
    )
    challenger = Scored(0.9)
    challenger.report_["stability"] = {"n": 3, "metrics": {"f1": {"std": 0.05, "values": [0.8, 0.85, 0.9]}}}
    fallback = _gate(challenger, Scored(0.7), _version(std=None))["checks"]["stability"]
    assert fallback["passed"] is True and fallback["band"] == 0.05
    assert "band of the new version (f1 spread 0.0500 over 3 seeded splits; version 1" in fallback["message"]


def test_a_metric_that_cannot_be_computed_never_passes() -> None:
    gate = _gate(Scored(0.9), Scored(math.nan))
    held = gate["checks"]["held_out"]
    assert held["passed"] is False and held["champion"] is None
    assert "f1 cannot be computed on these rows" in held["message"]


def test_a_large_hold_out_is_resampled_at_a_bounded_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shopfloor.jobs.gate.RESAMPLE_ROWS", 4)
    challenger, champion = Scored(0.9), Scored(0.7)
    band = _gate(challenger, champion)["checks"]["stability"]
    assert challenger.scored == [10] + [4] * RESAMPLES
    assert f"over {RESAMPLES} resamples of 4 of the 10 held-out rows of the new data (0.0000)" in str(band)


class Unmatched(Scored):
    """A family with no comparable held-out figure (image anomaly without labelled defects...)."""

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        return Incomparable(f"the new data holds no labelled defect image; {data.champion} cannot be judged")


def test_without_a_comparable_figure_the_gate_says_why_and_does_not_pass() -> None:
    gate = _gate(Unmatched(0.9), Scored(0.7))
    held, band = gate["checks"]["held_out"], gate["checks"]["stability"]
    assert held == {
        "passed": False, "comparable": False, "left_out": 0,
        "message": "held-out: no comparable figure: the new data holds no labelled defect image; version 1 "
        "(production) cannot be judged.",
    }  # fmt: skip
    assert gate["passed"] is False and held["message"] in gate["summary"]
    assert band["passed"] is False and band["message"].startswith("stability: no held-out improvement")


def test_without_a_comparable_figure_live_data_decides_where_there_is_enough() -> None:
    better = _gate(Unmatched(0.9, live=0.9), Scored(0.7, live=0.6), source=Live(40))
    assert better["passed"] is True and better["checks"]["live"]["passed"] is True
    assert better["summary"].startswith("Gate passed: the new version beats version 1 (production) on live")
    band = better["checks"]["stability"]
    assert band["message"].startswith("stability: the live improvement (0.3000) exceeds")
    assert "labelled live records" in band["message"]
    worse = _gate(Unmatched(0.9, live=0.5), Scored(0.7, live=0.6), source=Live(40))
    assert worse["passed"] is False and worse["checks"]["live"]["message"] in worse["summary"]


class Errors(Scored):
    """A family whose figure is an error, judged by its own direction (a forecast's MASE)."""

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        rows = np.arange(10, 20)
        return Paired(
            "mase", False, len(rows), "series", "series of the new data", 0,
            lambda take: ({"mase": self.held}, {"mase": champion.held}),
        )  # fmt: skip


def test_the_family_gives_the_figure_and_its_direction() -> None:
    gate = _gate(Errors(0.8, metric="mase"), Errors(1.1, metric="mase"), _version(std=None, metric="mase"))
    held = gate["checks"]["held_out"]
    assert gate["metric"] == "mase" and gate["greater_is_better"] is False and gate["passed"] is True
    assert (held["unit"], held["rows"], held["improvement"]) == ("series", 10, pytest.approx(0.3))
    assert held["message"].startswith("held-out: On 10 series of the new data, mase is 0.8000")


def test_a_champion_that_cannot_score_the_new_data_makes_no_comparison() -> None:
    class Unreadable(Scored):
        def row_scorer(self, frame: pd.DataFrame, target: str) -> Any:
            raise InvalidInput("the records lack input column 'x'")

    held = _gate(Scored(0.9), Unreadable(0.7))["checks"]["held_out"]
    assert held["comparable"] is False and held["passed"] is False
    assert "version 1 (production) could not be scored on the new data: the records lack" in held["message"]

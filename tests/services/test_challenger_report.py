"""The comparison's pairing of logged answers and its recommendation rules, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.services.challenger_report import MIN_OUTCOMES, pair, recommend

AT = datetime(2026, 1, 1, tzinfo=UTC)
SIDES = {"champion": 1, "challenger": 2}


def _ref(slot: int, request: str | None, source: str, version: int, position: int = 0) -> LoggedPrediction:
    at = AT + timedelta(seconds=slot)
    return LoggedPrediction("b1", slot, "t", "m", version, request, position, source, at)


def test_answers_pair_by_request_and_index_of_the_versions_compared() -> None:
    refs = [
        _ref(0, "r1", "champion:served", 1), _ref(1, "r1", "challenger:shadow", 2),
        _ref(2, "r2", "champion:shadow", 1), _ref(3, "r2", "challenger:served", 2),
        _ref(4, "r3", "champion:served", 1),  # its challenger run was dropped
        _ref(5, "r4", "champion:served", 1), _ref(6, "r4", "challenger:shadow", 3),  # another challenger
        _ref(7, "r5", "champion:served", 1, 0), _ref(8, "r5", "champion:served", 1, 0),  # the id sent twice
        _ref(9, "r5", "challenger:shadow", 2, 0),
        _ref(10, None, "champion:served", 1),  # no request id to pair by
        _ref(11, "r6", "predict", 1),  # a plain logged prediction: not part of the comparison
    ]
    found = pair(refs, 1, 2)
    served = [(p.request_id, p.served) for p in found.pairs]
    assert served == [("r1", "champion"), ("r2", "challenger"), ("r5", "champion")]
    assert found.unpaired == {"champion": 4, "challenger": 0}
    assert found.other_versions == 1


def _totals(
    champion: float | None, challenger: float | None, n: int, p95: tuple[float, float] = (1.0, 1.0),
    lower: bool = False,
) -> dict[str, Any]:
    metric = "rmse" if lower else "f1"
    return {
        "agreement": {"measure": "same_class", "value": 0.9, "lower_is_closer": False, "values": {}},
        "metrics": {
            "names": [metric], "headline": metric, "lower_is_better": [metric] if lower else [],
            "outcomes": n,
            "champion": {metric: champion}, "challenger": {metric: challenger},
        },
        "latency_ms": {"champion": {"p95": p95[0]}, "challenger": {"p95": p95[1]}},
    }


def _compared(records: int, unpaired: int = 0) -> dict[str, Any]:
    return {"records": records, "unpaired": {"champion": unpaired, "challenger": 0}}


def test_the_recommendation_needs_pairs_outcomes_and_a_metric_at_least_as_good() -> None:
    enough = MIN_OUTCOMES
    assert recommend(SIDES, _compared(0), _totals(None, None, 0))[0] is False
    promote, why = recommend(SIDES, _compared(100, unpaired=10), _totals(0.5, 0.9, enough))
    assert not promote and "9.1% of the answers have no answer of the other side" in why
    promote, why = recommend(SIDES, _compared(100), _totals(0.5, 0.9, enough - 1))
    assert not promote and f"{enough - 1} of 100 compared records have an outcome" in why
    promote, why = recommend(SIDES, _compared(100), _totals(0.9, 0.8, enough))
    assert not promote
    assert why.startswith("Do not promote: the challenger (version 2) scored f1 0.8 against 0.9")
    promote, why = recommend(SIDES, _compared(100), _totals(0.8, 0.8, enough))
    assert promote and why.startswith("Promote:") and "agree on 90.0% of the records" in why
    assert recommend(SIDES, _compared(100), _totals(2.0, 1.5, enough, lower=True))[0] is True  # smaller error
    assert recommend(SIDES, _compared(100), _totals(1.5, 2.0, enough, lower=True))[0] is False
    promote, why = recommend(SIDES, _compared(100), _totals(0.8, 0.9, enough, p95=(4.0, 30.0)))
    assert not promote and "its p95 latency is 30 ms against 4 ms" in why
    assert recommend(SIDES, _compared(100), _totals(0.8, 0.9, enough, p95=(1.0, 5.0)))[0] is True  # 4 ms more
    assert recommend(SIDES, _compared(100), _totals(None, 0.9, enough))[0] is False

"""Azure answers from Shopfloor's anomaly scores: severity, interpretation and statuses."""

from __future__ import annotations

import pandas as pd

from shopfloor.services.azure_mv_views import STATUS, interpretation, point_state


def test_interpretation_ranks_variables_and_names_those_that_broke_away_together() -> None:
    found = interpretation({"a": 10.0, "b": 60.0, "c": 30.0, "d": 0.0}, top=3)
    assert [i["variable"] for i in found] == ["b", "c", "a"]
    assert [i["contributionScore"] for i in found] == [0.6, 0.3, 0.1]
    # above an even share (25 %): b and c
    assert found[0]["correlationChanges"]["changedVariables"] == ["c"]
    assert found[1]["correlationChanges"]["changedVariables"] == ["b"]
    assert found[2]["correlationChanges"]["changedVariables"] == ["b", "c"]
    assert interpretation({}, 5) == []


def test_severity_is_zero_below_the_threshold_and_grows_towards_one() -> None:
    when = pd.Timestamp("2026-01-01T00:00:00Z")
    calm = {"flagged": False, "score": 0.5, "severity": {"value": 0.5}, "contributions": {}}
    assert point_state(when, calm, 3)["value"] == {"isAnomaly": False, "severity": 0.0, "score": 0.5,
                                                   "interpretation": []}
    severities = []
    for ratio in (1.5, 3.0, 30.0):
        point = {"flagged": True, "score": ratio, "severity": {"value": ratio}, "contributions": {"a": 100.0}}
        state = point_state(when, point, 3)
        assert state["timestamp"] == "2026-01-01T00:00:00Z"
        severities.append(state["value"]["severity"])
    assert 0 < severities[0] < severities[1] < severities[2] < 1


def test_every_job_status_has_an_azure_status() -> None:
    from shopfloor.registry.entities import JOB_STATUSES

    assert set(STATUS) == set(JOB_STATUSES)
    assert set(STATUS.values()) == {"CREATED", "RUNNING", "READY", "FAILED"}

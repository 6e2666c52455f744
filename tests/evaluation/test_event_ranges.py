"""Predicted ranges against labels: the counts and the quality rule of Lookout's models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shopfloor.evaluation.event_ranges import model_metrics, quality, ranges_of

T = datetime(2024, 1, 1, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


def _predicted(*spans: tuple[int, int]) -> list[dict]:
    shares = {"p\\x": 75.0, "p\\y": 25.0}
    events = [
        {"start": _at(a).isoformat(), "end": _at(b).isoformat(), "points": b - a + 1, "peak_score": 2.0,
         "contributions": shares}
        for a, b in spans
    ]
    results = [{"events": events}]
    return ranges_of(results)


def test_ranges_of_results_carry_shares_of_one() -> None:
    (r,) = _predicted((5, 9))
    assert r["start"] == _at(5)
    assert r["diagnostics"] == [{"name": "p\\x", "value": 0.75}, {"name": "p\\y", "value": 0.25}]


def test_the_quality_rule() -> None:
    labels = [(_at(0), _at(10)), (_at(20), _at(30))]
    assert quality([], _predicted((1, 2)))["quality"] == "CANNOT_DETERMINE_QUALITY"
    assert quality(labels, [])["quality"] == "POOR_QUALITY_DETECTED"
    met = quality(labels, _predicted((5, 9), (25, 28)))
    assert met["quality"] == "QUALITY_THRESHOLD_MET" and met["detected_labeled_ranges_count"] == 2
    # half the labels found, but most predictions false alarms
    poor = quality(labels, _predicted((5, 9), (40, 41), (50, 51), (60, 61)))
    assert poor["quality"] == "POOR_QUALITY_DETECTED" and poor["false_predicted_ranges_count"] == 3
    # one label of three found
    assert quality([*labels, (_at(70), _at(80))], _predicted((5, 9)))["quality"] == "POOR_QUALITY_DETECTED"


def test_model_metrics_are_json_with_the_ranges() -> None:
    metrics = model_metrics([(_at(0), _at(10))], _predicted((5, 9)), {"evaluation_rows": 100})
    text = json.dumps(metrics)
    back = json.loads(text)
    start, end = "2024-01-01T00:00:00.000000", "2024-01-01T00:10:00.000000"
    assert back["labeled_ranges"] == [{"start": start, "end": end}]
    assert back["predicted_ranges"][0]["diagnostics"][0] == {"name": "p\\x", "value": 0.75}
    assert back["evaluation_rows"] == 100 and back["quality"] == "QUALITY_THRESHOLD_MET"

"""The gauges of evaluated signals and the PromQL of the rules file: names, labels, units, escaping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import yaml

from alert_fixtures import rule_entity
from shopfloor.alerting.prometheus import expression, gauges, rules_file
from shopfloor.registry.entities import AlertState

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BASE = rule_entity(
    tenant="default", name="lat", signal="latency_p99_ms", bound=250.0, window_s=300, for_s=120
)


def state(value: float | None, age_s: float = 10, version: int = 3) -> AlertState:
    at = NOW - timedelta(seconds=age_s)
    return AlertState(
        rule_id="alr_1", tenant="default", state="ok", since=at, value=value, version=version,
        note=None, evaluated_at=at, next_eval_at=NOW, revision=1,
    )  # fmt: skip


def test_latency_goes_out_in_seconds() -> None:
    assert expression(BASE) == (
        'max by (tenant, model, version) (shopfloor_model_latency_p99_seconds{tenant="default",'
        'model="press",window="5m"}) > 0.25'
    )
    (sample,) = gauges([(BASE, state(180.0))], NOW, 300)
    assert sample.name == "shopfloor_model_latency_p99_seconds" and sample.value == 0.18
    assert dict(sample.labels) == {"model": "press", "tenant": "default", "version": "3", "window": "5m"}


def test_metrics_pinned_versions_and_lower_bounds() -> None:
    rule = replace(BASE, signal="realised_metric", metric="f1", comparison="<", bound=0.8, version=2)
    assert expression(rule) == (
        'min by (tenant, model, version) (shopfloor_model_metric{tenant="default",model="press",'
        'metric="f1",source="realised",window="5m",version="2"}) < 0.8'
    )


def test_label_values_are_escaped() -> None:
    rule = replace(BASE, signal="drift_score", input='temp "inner"\\x', bound=0.3)
    assert 'input="temp \\"inner\\"\\\\x"' in expression(rule)
    parsed = yaml.safe_load(rules_file("default", [rule]))
    assert parsed["groups"][0]["rules"][0]["expr"] == expression(rule)


def test_stale_and_unknown_values_are_left_out_and_one_series_is_one_sample() -> None:
    critical = replace(BASE, id="alr_2", name="lat-critical", bound=500.0)
    rows = [(BASE, state(180.0, age_s=50)), (critical, state(190.0, age_s=5)), (BASE, state(None))]
    (sample,) = gauges(rows, NOW, 300)
    assert sample.value == 0.19  # the newer of the two rules' readings of one series
    assert gauges([(BASE, state(180.0, age_s=301))], NOW, 300) == ()


def test_the_rules_file_is_prometheus_shaped() -> None:
    text = rules_file("default", [BASE, replace(BASE, id="alr_9", name="off", enabled=False)])
    assert text.startswith("# Prometheus alerting rules")
    (group,) = yaml.safe_load(text)["groups"]
    (rule,) = group["rules"]
    assert list(rule) == ["alert", "expr", "for", "labels", "annotations"]
    assert rule["for"] == "2m" and rule["labels"] == {"severity": "warning", "shopfloor_rule": "alr_1"}
    assert "{{ $value }}" in rule["annotations"]["description"]

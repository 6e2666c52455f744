"""The monitored signals as Prometheus gauges, and a Prometheus alerting-rules file for the same
rules, so that a plant that runs Alertmanager can alert from Prometheus instead of (or beside)
the server's webhooks.

The gauges are the values the rule evaluation last computed, read from the registry at scrape
time: every host of a cluster exports the same values (the rules file takes ``max``/``min`` over
hosts), and a value that has not been computed for a while is left out rather than repeated.

* ``shopfloor_model_drift_score{tenant,model,version,input,window}`` (``input=""``: the largest
  over the inputs);
* ``shopfloor_model_metric{tenant,model,version,metric,source,window}`` (``source``
  ``estimated`` or ``realised``);
* ``shopfloor_model_error_rate{tenant,model,version,window}``;
* ``shopfloor_model_latency_p99_seconds{tenant,model,version,window}`` (the rules' milliseconds
  in seconds, as Prometheus has it).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from shopfloor.alerting.rules import duration, subject
from shopfloor.metrics import GaugeSample
from shopfloor.registry.entities import AlertRule, AlertState

_HELP = {
    "shopfloor_model_drift_score": "Drift score of a model's inputs over a window (input='' the largest)",
    "shopfloor_model_metric": "A model's performance metric over a window, estimated or realised on feedback",
    "shopfloor_model_error_rate": "Share of a model's requests that failed over a window",
    "shopfloor_model_latency_p99_seconds": "99th percentile latency of a model's requests over a window",
}


def series(rule: AlertRule) -> tuple[str, dict[str, str]]:
    """The gauge a rule's signal is exported as, and its labels other than ``version``."""
    labels = {"tenant": rule.tenant, "model": rule.model}
    if rule.signal == "drift_score":
        name = "shopfloor_model_drift_score"
        labels["input"] = rule.input or ""
    elif rule.signal in ("estimated_metric", "realised_metric"):
        name = "shopfloor_model_metric"
        labels["metric"] = rule.metric or ""
        labels["source"] = rule.signal.split("_")[0]
    elif rule.signal == "error_rate":
        name = "shopfloor_model_error_rate"
    else:
        name = "shopfloor_model_latency_p99_seconds"
    labels["window"] = duration(rule.window_s)
    return name, labels


def _scale(rule: AlertRule, value: float) -> float:
    return value / 1000.0 if rule.signal == "latency_p99_ms" else value


def gauges(
    rows: list[tuple[AlertRule, AlertState]], now: datetime, fresh_s: float
) -> tuple[GaugeSample, ...]:
    """The gauges of the values evaluated within ``fresh_s`` seconds of ``now`` (one sample per
    series: two rules on one signal, say a warning and a critical bound, give one)."""
    newest: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[datetime, float]] = {}
    for rule, state in rows:
        if state.value is None or state.version is None or state.evaluated_at is None:
            continue
        if now - state.evaluated_at > timedelta(seconds=fresh_s):
            continue
        name, labels = series(rule)
        key = (name, tuple(sorted({**labels, "version": str(state.version)}.items())))
        if key not in newest or newest[key][0] < state.evaluated_at:
            newest[key] = (state.evaluated_at, _scale(rule, state.value))
    return tuple(
        GaugeSample(name, _HELP[name], labels, value) for (name, labels), (_, value) in sorted(newest.items())
    )


def _selector(rule: AlertRule) -> str:
    name, labels = series(rule)
    if rule.version is not None:
        labels["version"] = str(rule.version)
    # PromQL strings take Go's escapes, which JSON's are a subset of.
    inner = ",".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in labels.items())
    return f"{name}{{{inner}}}"


def expression(rule: AlertRule) -> str:
    """The PromQL condition of ``rule``: its gauge (across hosts, by version) against its bound."""
    across = "max" if rule.comparison.startswith(">") else "min"
    bound = repr(_scale(rule, rule.bound))
    return f"{across} by (tenant, model, version) ({_selector(rule)}) {rule.comparison} {bound}"


def rules_file(tenant: str, rules: list[AlertRule]) -> str:
    """A Prometheus rules file (YAML) with one alerting rule per enabled rule of ``tenant``."""
    import yaml

    entries = []
    for rule in rules:
        if not rule.enabled:
            continue
        entry: dict[str, object] = {"alert": rule.name, "expr": expression(rule)}
        if rule.for_s:
            entry["for"] = duration(rule.for_s)
        entry["labels"] = {"severity": rule.severity, "shopfloor_rule": rule.id}
        scale = " (in seconds)" if rule.signal == "latency_p99_ms" else ""
        entry["annotations"] = {
            "summary": f"{rule.name}: {subject(rule)} of model {rule.model} over {duration(rule.window_s)}",
            "description": (
                f"The {subject(rule)}{scale} of model {{{{ $labels.model }}}} version "
                f"{{{{ $labels.version }}}} is {{{{ $value }}}} ({rule.comparison} "
                f"{_scale(rule, rule.bound)!r}; rule {rule.id})."
            ),
        }
        entries.append(entry)
    document = {"groups": [{"name": f"shopfloor-{tenant}", "rules": entries}]}
    header = (
        f"# Prometheus alerting rules for the Shopfloor alert rules of tenant {tenant!r}.\n"
        "# Generated by the server; load with rule_files in prometheus.yml (promtool check rules FILE).\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)

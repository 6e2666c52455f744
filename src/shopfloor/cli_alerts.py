"""``shopfloor alerts ...``: alert rules on deployed models, their states and webhooks, and the
Prometheus alerting-rules file, over the SDK. Tables go to stdout, notes to stderr."""

import re
from typing import Annotated, Any

import typer
from rich.markup import escape

from shopfloor import cli_common as common
from shopfloor import cli_render as render

alerts_app = typer.Typer(
    help="Alert rules on deployed models: create, list, test; states, webhooks, Prometheus rules.",
    no_args_is_help=True,
)

_WHEN = re.compile(r"\s*(>=|<=|>|<)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*")
_DURATION = re.compile(r"\s*(\d+)\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
SIGNALS = ("drift_score", "estimated_metric", "realised_metric", "error_rate", "latency_p99_ms")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")]
RuleArg = Annotated[str, typer.Argument(metavar="RULE_ID")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Only this model's rules.")]


def parse_when(value: str) -> tuple[str, float]:
    """``"> 0.3"`` -> ``(">", 0.3)``; the comparisons are >, >=, <, <=."""
    found = _WHEN.fullmatch(value)
    if found is None:
        raise typer.BadParameter(
            f"expected a comparison and a number such as '> 0.3' or '<=0.8', got {value!r}",
            param_hint="--when",
        )
    return found.group(1), float(found.group(2))


def parse_duration(value: str, hint: str) -> int:
    """``"90"``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` -> seconds."""
    found = _DURATION.fullmatch(value)
    if found is None:
        expected = f"expected a duration such as 90s, 15m, 2h or 1d, got {value!r}"
        raise typer.BadParameter(expected, param_hint=hint)
    return int(found.group(1)) * _UNITS[found.group(2)]


def _rule_table(rule: dict[str, Any]) -> None:
    state = rule.get("state") or {}
    rows = [(k, rule.get(k)) for k in ("id", "name", "model", "version", "signal", "input", "metric")]
    rows += [
        ("condition", f"{rule.get('comparison')} {common.fmt(rule.get('bound'))}"),
        ("window", f"{rule.get('window_s')} s"),
        ("for", f"{rule.get('for_s')} s"),
        ("severity", rule.get("severity")),
        ("enabled", rule.get("enabled")),
        ("targets", rule.get("targets") or "none (Prometheus only)"),
        ("state", f"{state.get('state')} since {common.fmt_time(state.get('since'))}"),
        ("last value", state.get("value")),
        ("note", state.get("note")),
    ]
    common.out.print(render.key_values(f"Alert rule {rule.get('name')}", rows))


@alerts_app.command("create")
def alerts_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Unique in the tenant.")],
    model: Annotated[str, typer.Option(help="The model watched.")],
    signal: Annotated[str, typer.Option(help=f"One of {', '.join(SIGNALS)}.")],
    when: Annotated[str, typer.Option(help="The firing condition, e.g. '> 0.3' (quote it).")],
    window: Annotated[str, typer.Option(help="The signal's window: 90s, 15m, 2h, 1d.")] = "15m",
    for_: Annotated[str, typer.Option("--for", help="How long the breach must last before firing.")] = "0",
    severity: Annotated[str, typer.Option(help="info, warning or critical.")] = "warning",
    target: Annotated[
        list[str] | None, typer.Option("--target", help="A webhook URL (repeat for several).")
    ] = None,
    input_name: Annotated[str | None, typer.Option("--input", help="drift_score: one input's score.")] = None,
    metric: Annotated[str | None, typer.Option(help="estimated/realised_metric: f1, rmse...")] = None,
    version: Annotated[int | None, typer.Option(help="Watch this version, not the production alias.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it without evaluating it yet.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an alert rule; its webhook signing secret is printed once (stdout, last line)."""
    comparison, bound = parse_when(when)
    with common.make_client() as client:
        rule = client.create_alert_rule(
            name,
            model,
            signal,
            comparison,
            bound,
            window_s=parse_duration(window, "--window"),
            for_s=parse_duration(for_, "--for"),
            severity=severity,
            targets=list(target or []),
            version=version,
            input=input_name,
            metric=metric,
            enabled=not disabled,
        )
    if as_json:
        common.print_json(rule)
        return
    _rule_table(rule)
    typer.echo(rule["secret"])
    common.err.print("the line above is the rule's webhook signing secret; it is shown only this once")


def _of(rule: dict[str, Any]) -> bool:
    return bool(rule.get("input") or rule.get("metric"))


@alerts_app.command("list")
def alerts_list(model: ModelOpt = None, as_json: JsonOpt = False) -> None:
    """List the tenant's alert rules with where each stands."""
    with common.make_client() as client:
        items = client.list_alert_rules(model)
    if as_json:
        common.print_json(items)
        return
    rows = [
        {
            "id": r["id"],
            "name": r["name"],
            "model": r["model"],
            "signal": r["signal"] + (f" ({r.get('input') or r.get('metric')})" if _of(r) else ""),
            "when": f"{r['comparison']} {common.fmt(r['bound'])}",
            "state": r["state"]["state"] if r["enabled"] else "disabled",
            "value": r["state"]["value"],
        }
        for r in items
    ]
    common.out.print(render.records_table("Alert rules", rows))


@alerts_app.command("show")
def alerts_show(rule_id: RuleArg, as_json: JsonOpt = False) -> None:
    """Show one rule with its state."""
    with common.make_client() as client:
        rule = client.get_alert_rule(rule_id)
    if as_json:
        common.print_json(rule)
    else:
        _rule_table(rule)


def _set_enabled(rule_id: str, enabled: bool) -> None:
    with common.make_client() as client:
        rule = client.update_alert_rule(rule_id, enabled=enabled)
    common.err.print(f"rule {escape(rule['name'])} {'enabled' if enabled else 'disabled'}")


@alerts_app.command("enable")
def alerts_enable(rule_id: RuleArg) -> None:
    """Evaluate a disabled rule again."""
    _set_enabled(rule_id, True)


@alerts_app.command("disable")
def alerts_disable(rule_id: RuleArg) -> None:
    """Stop evaluating a rule (its state goes back to ok, without a notification)."""
    _set_enabled(rule_id, False)


@alerts_app.command("delete")
def alerts_delete(rule_id: RuleArg) -> None:
    """Delete a rule, its state and its webhooks."""
    with common.make_client() as client:
        client.delete_alert_rule(rule_id)
    common.err.print(f"rule {escape(rule_id)} deleted")


@alerts_app.command("test")
def alerts_test(rule_id: RuleArg) -> None:
    """Send a test webhook to each of the rule's targets (see `alerts deliveries` for the outcome)."""
    with common.make_client() as client:
        queued = client.test_alert_rule(rule_id)
    for d in queued:
        common.err.print(f"test webhook {escape(d['id'])} queued for {escape(d['target'])}")


@alerts_app.command("states")
def alerts_states(model: ModelOpt = None, as_json: JsonOpt = False) -> None:
    """Where every rule stands: ok, pending or firing, since when, the last value."""
    with common.make_client() as client:
        items = client.alert_states(model)
    if as_json:
        common.print_json(items)
        return
    columns = ["rule", "model", "version", "severity", "state", "since", "value", "note"]
    rows = [{**s, "since": common.fmt_time(s.get("since"))} for s in items]
    common.out.print(render.records_table("Alert states", rows, columns))


@alerts_app.command("deliveries")
def alerts_deliveries(rule_id: RuleArg, as_json: JsonOpt = False) -> None:
    """The rule's webhooks, newest first: status, attempts, the last attempt's outcome."""
    with common.make_client() as client:
        items = client.alert_deliveries(rule_id)
    if as_json:
        common.print_json(items)
        return
    rows = []
    for d in items:
        last = (d.get("log") or [{}])[-1]
        outcome = last.get("error") or (f"HTTP {last['status']}" if last.get("status") else None)
        rows.append(
            {
                "id": d["id"],
                "event": d["event"],
                "target": d["target"],
                "status": d["status"],
                "attempts": f"{d['attempts']}/{d['max_attempts']}",
                "created": common.fmt_time(d.get("created_at")),
                "last outcome": outcome,
            }
        )
    common.out.print(render.records_table("Webhook deliveries", rows))


@alerts_app.command("prometheus-rules")
def alerts_prometheus_rules() -> None:
    """Print the tenant's rules as a Prometheus alerting-rules file: ... prometheus-rules > file.yml"""
    with common.make_client() as client:
        typer.echo(client.prometheus_rules(), nl=False)

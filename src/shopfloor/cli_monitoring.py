"""``shopfloor monitoring``: the prediction log of a deployed model, feedback, live performance.

Thin wrappers over the SDK (``shopfloor.client_monitoring``): each parses its options, makes one
SDK call and prints the answer as a table (or the raw JSON with ``--json``).
"""

import csv
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shopfloor import cli_common as common
from shopfloor import cli_render as render
from shopfloor.errors import InvalidInput

monitoring_app = typer.Typer(
    help="Deployed models watched: the prediction log, feedback and live performance.", no_args_is_help=True
)
log_app = typer.Typer(
    help="A model's prediction log: sampling rate, export, feedback, live performance.", no_args_is_help=True
)
monitoring_app.add_typer(log_app, name="log")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")]
VersionOpt = Annotated[
    str | None, typer.Option(help="Model version number or alias; default: the production alias.")
]


class Format(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@log_app.command("set-rate")
def set_rate(
    name: str,
    rate: Annotated[float, typer.Argument(min=0.0, max=1.0, help="0: log nothing; 1: every prediction.")],
) -> None:
    """Log RATE (0 to 1) of model NAME's predictions from now on (builder or admin key)."""
    with common.make_client() as c:
        found = c.set_log_rate(name, rate)
    common.out.print(render.key_values(f"Prediction log of {name}", list(found.items())))


@log_app.command("show")
def show(name: str, as_json: JsonOpt = False) -> None:
    """Model NAME's logging rate and the tenant's retention."""
    with common.make_client() as c:
        found = c.log_settings(name)
    if as_json:
        common.print_json(found)
        return
    common.out.print(render.key_values(f"Prediction log of {name}", list(found.items())))


@log_app.command("export")
def export(
    name: str,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", dir_okay=False, help="Write here; default: JSON lines on stdout."),
    ] = None,
    format: Annotated[Format, typer.Option(help="With --out: jsonl or csv.")] = Format.jsonl,
    version: Annotated[int | None, typer.Option(min=1, help="Only this version's predictions.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Predictions at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Predictions before (ISO 8601).")] = None,
    request_id: Annotated[str | None, typer.Option(help="Only this request's predictions.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000)] = 100_000,
) -> None:
    """Model NAME's logged predictions, oldest first, with inputs (masked), answer and outcome."""
    filters: dict[str, Any] = {
        "version": version, "since": since, "until": until, "request_id": request_id, "limit": limit
    }
    with common.make_client() as c:
        if out is not None:
            c.export_predictions(name, out, format=format.value, **filters)
            common.err.print(f"wrote {escape(str(out))}")
            return
        for row in c.export_predictions(name, **filters):
            typer.echo(json.dumps(row, separators=(",", ":")))


def _cell(value: str) -> Any:
    """A CSV cell as JSON where it is JSON (numbers, true/false, lists), else the text itself."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """Outcomes from CSV (columns record_id or request_id and index, and outcome), JSON (a list or
    {"items": [...]}) or JSON lines."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and "outcome" not in rows[0]:
            raise InvalidInput(
                f"{path.name} has no outcome column",
                errors=[{"loc": [path.name, "header"], "msg": "needs outcome, and record_id or request_id"}],
            )
        items = []
        for row in rows:
            item: dict[str, Any] = {"outcome": _cell(row["outcome"])}
            for key in ("record_id", "request_id"):
                if row.get(key):
                    item[key] = row[key]
            if row.get("index"):
                item["index"] = int(row["index"])
            items.append(item)
        return items
    try:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not valid JSON: {exc.msg}",
            errors=[{"loc": [path.name, f"line {exc.lineno}"], "msg": exc.msg}],
        ) from None
    return list(found["items"] if isinstance(found, dict) else found)


@log_app.command("feedback")
def feedback(
    name: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, metavar="FILE")],
    as_json: JsonOpt = False,
) -> None:
    """Send the true outcomes in FILE for model NAME's logged predictions (CSV with outcome and
    record_id, or request_id and index; or JSON / JSON lines of such items)."""
    items = read_feedback(file)
    with common.make_client() as c:
        found = c.send_feedback(name, items)
    if as_json:
        common.print_json(found)
        return
    common.out.print(f"{found['accepted']} outcome(s) stored for {escape(name)} ({found['kind']} outcomes)")


def performance_table(found: dict[str, Any]) -> Table:
    """One row per window: its predictions and outcomes, each metric realised, the estimates."""
    metrics = list(found["metrics"])
    estimated = found["estimation"]["available"]
    guesses = ["est. f1", "est. precision"] if estimated else []
    columns = ["window", "predictions", "outcomes", *metrics, *guesses]
    table = render.window_table(found, "live performance", columns)
    baseline = [common.fmt(found["baseline"].get(m)) for m in metrics]
    table.add_row("training report", "", "", *baseline, *([""] * len(guesses)))
    for w in found["windows"]:
        realised, guess = w.get("realised") or {}, w.get("estimated") or {}
        table.add_row(
            common.fmt_time(w.get("start")),
            str(w["predictions"]),
            str(w["outcomes"]),
            *(common.fmt(realised.get(m)) for m in metrics),
            *((common.fmt(guess.get("f1")), common.fmt(guess.get("precision"))) if estimated else ()),
        )
    return table


@log_app.command("performance")
def performance(
    name: str,
    window: common.LogWindowOpt = "1d",
    windows: Annotated[int, typer.Option(min=1, max=200, help="How many windows, newest last.")] = 20,
    version: VersionOpt = None,
    plot: common.PlotOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Model NAME's live metrics per window: realised from the feedback, estimated without it
    (calibrated classifiers), beside the training report's figures."""
    which = common.parse_version(version)
    with common.make_client() as c:
        found = c.performance(name, version=which, window=window, windows=windows)
        if plot is not None:
            c.performance_plot(name, plot, version=which, window=window, windows=windows)
    if as_json:
        common.print_json(found)
        return
    common.out.print(performance_table(found))
    if not found["estimation"]["available"] and found["estimation"].get("reason"):
        common.err.print(f"estimates without outcomes: {escape(found['estimation']['reason'])}")
    if plot is not None:
        common.err.print(f"wrote {escape(str(plot))}")

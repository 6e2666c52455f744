"""``shopfloor drift``: a window of recent rows against a model's training profile.

Thin wrappers over the SDK's drift calls: each parses its options, makes one call and prints the
answer with Rich (or the raw JSON with ``--json``). Errors are shown by the root group in
``shopfloor.cli``.
"""

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shopfloor import cli_common as common
from shopfloor import cli_render as render

drift_app = typer.Typer(
    help="Drift of a model's inputs and outputs against its training profile: check, profile, plot.",
    no_args_is_help=True,
)

WindowArg = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        readable=True,
        metavar="FILE",
        help="The window: recent rows as CSV or Parquet (sent as a file), or JSON records.",
    ),
]
VersionOpt = Annotated[
    str | None, typer.Option(help="Model version number or alias; default: the production alias.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")]
#: Exit code of ``drift check --fail-on-drift`` when the window drifted (1 is an error).
DRIFT_EXIT = 3


class ChartKind(StrEnum):
    distributions = "distributions"
    timeline = "timeline"


def _window(path: Path) -> Any:
    """JSON files are read here as records; tables go to the server as they are."""
    return common.read_records(path) if path.suffix.lower() in {".json", ".jsonl", ".ndjson"} else path


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return "< 0.001" if isinstance(value, float) and 0 < value < 0.001 else f"{value:.{digits}f}"


def findings_table(title: str, findings: list[dict[str, Any]], top: int) -> Table:
    """Ranked findings: drifted ones first (in red), each with its figures and its sentence."""
    table = Table(title=title, title_justify="left")
    for column in ("", "variable", "test", "distance", "p (adj.)", "what moved"):
        table.add_column(column, overflow="fold")
    for f in findings[:top]:
        mark = "[bold red]drift[/]" if f["drifted"] else "[green]ok[/]"
        name = f"[bold]{escape(f['name'])}[/]" if f["drifted"] else escape(f["name"])
        table.add_row(
            mark, name, escape(f["test"]), _number(f.get("distance")), _number(f.get("p_adjusted"), 3),
            escape(f["sentence"]),
        )
    if len(findings) > top:
        table.caption = f"{len(findings) - top} more, none ranked higher (--top to show them)"
    return table


@drift_app.command("check")
def check(
    model: str,
    window: WindowArg,
    version: VersionOpt = None,
    alpha: Annotated[
        float | None, typer.Option(help="Family-wise false-alarm rate per window (server default 0.01).")
    ] = None,
    min_distance: Annotated[
        float | None, typer.Option(help="Smallest effect that counts as drift, 0 to 1 (server default 0.1).")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows shown per table.", min=1)] = 15,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help=f"Exit with code {DRIFT_EXIT} when the window drifted.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare the rows of FILE with MODEL's training profile: which inputs and outputs moved,
    by how much, in words; drifted ones first."""
    with common.make_client() as client:
        report = client.drift(
            model,
            _window(window),
            version=common.parse_version(version),
            alpha=alpha,
            min_distance=min_distance,
        )
    if as_json:
        common.print_json(report)
    else:
        colour = "bold red" if report["drifted"] else "bold green"
        common.out.print(f"[{colour}]{escape(report['summary'])}[/]")
        thresholds = report["thresholds"]
        common.out.print(
            f"{report['model']} v{report['version']}, {report['rows']} rows; "
            f"{thresholds['tests']} tests, Holm-adjusted, alpha {thresholds['alpha']}, "
            f"distance {thresholds['min_distance']}; profile: {escape(report['profile']['source'])}"
        )
        sections = (("Inputs", "inputs"), ("Model outputs", "outputs"), ("Inputs together", "together"))
        for title, key in sections:
            if report[key]:
                common.out.print(findings_table(title, report[key], top))
        for warning in report["warnings"]:
            common.err.print(f"[yellow]warning: {escape(warning)}[/]")
    if fail_on_drift and report["drifted"]:
        raise typer.Exit(DRIFT_EXIT)


@drift_app.command("profile")
def profile(model: str, version: VersionOpt = None, as_json: JsonOpt = False) -> None:
    """Show the training profile MODEL's drift checks compare with: each input and output."""
    with common.make_client() as client:
        found = client.drift_profile(model, version=common.parse_version(version))
    if as_json:
        common.print_json(found)
        return
    common.out.print(
        f"{found['model']} v{found['version']}: {found['rows']} training rows, {escape(found['source'])}"
    )
    table = Table(title="Profiled", title_justify="left")
    for column in ("variable", "role", "kind", "missing", "at training"):
        table.add_column(column, overflow="fold")
    for item in [*found["inputs"], *found["outputs"]]:
        table.add_row(
            escape(item["name"]), item["role"], item["kind"], f"{100 * item['missing_share']:.1f} %",
            escape(_training(item)),
        )
    common.out.print(table)
    for skipped in found["skipped"]:
        common.err.print(f"[yellow]not compared: {escape(skipped['name'])}: {escape(skipped['why'])}[/]")


def _training(item: dict[str, Any]) -> str:
    if item["kind"] == "numeric":
        s = item["summary"]
        unit = f" {item['unit']}" if item.get("unit") else ""
        spread = f"{common.fmt(s.get('p5'))}..{common.fmt(s.get('p95'))}"
        return f"mean {common.fmt(s.get('mean'))}{unit}, 5-95 % {spread}"
    if item["kind"] == "categorical":
        top = sorted(item["shares"].items(), key=lambda kv: -kv[1])[:4]
        return ", ".join(f"{k} {100 * v:.0f} %" for k, v in top)
    return f"embeddings, {item.get('dimension')} dimensions"


@drift_app.command("plot")
def plot(
    model: str,
    window: WindowArg,
    kind: Annotated[ChartKind, typer.Option(help="Which chart.")] = ChartKind.distributions,
    version: VersionOpt = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="PNG file; default: MODEL-drift-KIND.png."),
    ] = None,
) -> None:
    """Save a chart of FILE's drift as PNG and print its path.

    distributions: training against window for the variables that moved most.
    timeline: the window cut into consecutive parts, each part's distance from training.
    """
    target = output or Path(f"{model}-drift-{kind.value}.png")
    with common.make_client() as client:
        path = client.drift_plot(
            model, _window(window), kind=kind.value, version=common.parse_version(version), dest=target
        )
    typer.echo(str(path))


def timeline_table(found: dict[str, Any]) -> Table:
    """One row per window of the log: its predictions, whether it drifted, its score and summary."""
    columns = ("window", "predictions", "", "score", "summary")
    table = render.window_table(found, "drift", columns, left=("window", "", "summary"), overflow="fold")
    for w in found["windows"]:
        mark = "-" if not w["checked"] else "[bold red]drift[/]" if w["drifted"] else "[green]ok[/]"
        table.add_row(
            common.fmt_time(w.get("start")), str(w["predictions"]), mark, _number(w.get("score")),
            escape(w["summary"]),
        )
    return table


@drift_app.command("timeline")
def timeline(
    model: str,
    window: common.LogWindowOpt = "1d",
    windows: Annotated[int, typer.Option(min=1, max=50, help="How many windows, newest last.")] = 20,
    version: VersionOpt = None,
    plot: common.PlotOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Drift over time: each window of MODEL's logged predictions against its training profile
    (the model must log its predictions: shopfloor monitoring log set-rate)."""
    which = common.parse_version(version)
    with common.make_client() as client:
        found = client.drift_timeline(model, window=window, windows=windows, version=which)
        if plot is not None:
            client.drift_timeline_plot(model, plot, window=window, windows=windows, version=which)
    if as_json:
        common.print_json(found)
    else:
        common.out.print(timeline_table(found))
    if plot is not None:
        common.err.print(f"wrote {escape(str(plot))}")

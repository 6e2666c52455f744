"""``shopfloor models challenger``: run a model's challenger in shadow or as a canary, compare it with
the champion, promote it.

Thin wrappers over the SDK (:mod:`shopfloor.client_challenger`); errors are shown by the root group.
"""

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table

from shopfloor import cli_common as common
from shopfloor import cli_render as render

challenger_app = typer.Typer(
    help="A model's challenger: run it in shadow or as a canary, compare it with production, promote it.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")]
SIDES = ("champion", "challenger")


class Mode(StrEnum):
    off = "off"
    shadow = "shadow"
    canary = "canary"


def _state(found: dict[str, Any]) -> str:
    share = f", answering {100 * float(found['share']):.4g}% of requests" if found["mode"] == "canary" else ""
    return (
        f"{escape(str(found['model']))}: challenger {found.get('challenger') or '-'} against production "
        f"{found.get('champion') or '-'}, mode {found['mode']}{share}"
    )


@challenger_app.command("show")
def show(name: str, as_json: JsonOpt = False) -> None:
    """Show the model's challenger, the production version and the mode."""
    with common.make_client() as client:
        found = client.get_challenger(name)
    if as_json:
        common.print_json(found)
    else:
        common.out.print(_state(found))


@challenger_app.command("set")
def set_mode(
    name: str,
    mode: Annotated[Mode, typer.Argument(help="off, shadow (run beside every request) or canary.")],
    share: Annotated[
        float | None,
        typer.Option(help="Canary: the part of requests the challenger answers, 0 to 1.", min=0.0, max=1.0),
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="Point the challenger alias at this version first.", min=1)
    ] = None,
) -> None:
    """Run a model's challenger off, in shadow, or as a canary (every server applies it at once)."""
    with common.make_client() as client:
        found = client.set_challenger(name, mode.value, share=share, version=version)
    common.err.print(f"[green]{_state(found)}[/]")


def report_view(found: dict[str, Any]) -> RenderableType:
    """The comparison as tables: what was compared, agreement, metrics and latency per side, advice."""
    compared = found["compared"]
    head = render.key_values(
        f"{found['model']}: challenger version {found['challenger']} against version {found['champion']}",
        [
            ("mode", found["mode"] + (f" (share {found['share']:.4g})" if found["mode"] == "canary" else "")),
            ("span", f"{common.fmt_time(found['since'])} to {common.fmt_time(found['until'])}"),
            ("requests compared", compared["requests"]),
            ("records compared", compared["records"]),
            ("served by the challenger", compared["served_by_challenger"]),
            ("one side only", compared["unpaired"]),
            ("other versions", compared["other_versions"]),
        ],
    )
    agreement = render.key_values(
        f"Agreement ({found.get('kind') or 'answers'})",
        [(k.replace("_", " "), v) for k, v in found["agreement"]["values"].items()],
    )
    table = Table(title="Each side", title_justify="left")
    table.add_column("")
    for side in SIDES:
        table.add_column(f"{side} (v{found[side]})", justify="right")
    metrics = found["metrics"]
    for metric in metrics["names"]:
        better = "lower" if metric in metrics["lower_is_better"] else "higher"
        cells = [common.fmt(metrics[side].get(metric)) for side in SIDES]
        table.add_row(f"{metric} ({better} is better)", *cells)
    table.add_row("records with outcomes", *[str(metrics["outcomes"])] * 2)
    for q in ("p50", "p95"):
        table.add_row(f"latency {q} (ms)", *[common.fmt(found["latency_ms"][side][q]) for side in SIDES])
    advice = found["recommendation"]
    colour = "green" if advice["promote"] else "yellow"
    return Group(head, agreement, table, f"[{colour}]{escape(advice['reason'])}[/]")


@challenger_app.command("report")
def report(
    name: str,
    window: Annotated[str, typer.Option(help="One window's time span: 15m, 1h, 1d.")] = "1h",
    windows: Annotated[int, typer.Option(help="How many windows, the newest ending now.", min=1)] = 24,
    plot: Annotated[
        Path | None, typer.Option("--plot", dir_okay=False, help="Also save the chart (PNG) here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare the challenger with production on the same requests: agreement, metrics on feedback,
    latency, and whether to promote it."""
    with common.make_client() as client:
        found = client.challenger_report(name, window=window, windows=windows)
        if plot is not None:
            client.challenger_plot(name, plot, window=window, windows=windows)
    if as_json:
        common.print_json(found)
    else:
        common.out.print(report_view(found))
    if plot is not None:
        common.err.print(f"chart written to {escape(str(plot))}")


@challenger_app.command("promote")
def promote(
    name: str,
    version: Annotated[
        int | None,
        typer.Option(help="The challenger version expected; default: the one the server names now."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Move production to the challenger and turn the mode off; refused if the challenger changed."""
    with common.make_client() as client:
        found = client.get_challenger(name)
        expected = version if version is not None else found.get("challenger")
        if expected is None:
            common.err.print(f"[red]{escape(name)} has no challenger to promote[/]")
            raise typer.Exit(1)
        if not yes:
            typer.confirm(
                f"Move production of {name!r} from version {found.get('champion')} to version {expected}?",
                abort=True,
            )
        done = client.promote_challenger(name, int(expected), champion=found.get("champion"))
    common.err.print(
        f"[green]{escape(str(done['model']))}@production → version {done['production']} "
        f"(was {done['previous']}); challenger mode off[/]"
    )

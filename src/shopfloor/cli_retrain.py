"""``shopfloor models retrain``: the production version's configuration trained again on new data,
gated against it, followed with a progress bar, and the gate shown check by check."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shopfloor import cli_common as common

if TYPE_CHECKING:
    from shopfloor.client import Client

#: The gate's checks, in the order they are shown.
CHECKS = (("held_out", "held-out"), ("live", "live"), ("stability", "stability band"))


def retrain(
    name: Annotated[str, typer.Argument(help="The model to retrain.")],
    data: Annotated[
        list[str],
        typer.Option(
            "--data",
            help="A dataset id, or a CSV/Parquet file (uploaded first). Repeat it to combine datasets, "
            "e.g. the champion's training data and the new data.",
        ),
    ],
    version: Annotated[
        int | None, typer.Option(help="The champion to repeat and compare with; default: production.")
    ] = None,
    promote: Annotated[
        bool,
        typer.Option(
            "--promote/--no-promote",
            help="Move production to the new version if its gate passes (and production did not move).",
        ),
    ] = False,
    watch: Annotated[bool, typer.Option("--watch/--no-watch", help="Follow the job until it ends.")] = True,
) -> None:
    """Retrain a model on new data with the champion's configuration and gate the new version.

    Prints the job id, follows it, then shows the gate: the new version must beat the champion on
    the same held-out rows, on labelled live data where there is any, and by more than the
    champion's stability band. Exit 1 if the job fails; a failed gate still registers the version
    (not promoted) and exits 0.
    """
    with common.make_client() as client:
        ids = [_dataset_id(client, item) for item in data]
        job = client.retrain(name, ids, version=version, promote=promote, wait=False)
        typer.echo(job["id"])
        if not watch:
            return
        job = common.watch_job(client, job["id"])
    common.out.print(gate(job.get("result") or {}))


def _dataset_id(client: "Client", item: str) -> str:
    """``item`` itself, or the id of the dataset it names as a file, uploaded now."""
    path = Path(item)
    if not path.is_file():
        return item
    uploaded = client.upload_dataset(path)
    common.err.print(f"[green]uploaded {escape(path.name)} as dataset {escape(str(uploaded['id']))}[/]")
    return str(uploaded["id"])


def gate(result: dict[str, Any]) -> RenderableType:
    """The gate of a retraining job's result: a verdict, each check in words, the promotion."""
    found = result.get("gate") or {}
    passed = bool(found.get("passed"))
    title = Text(
        f"Version {result.get('version')} against version {result.get('champion')}: "
        + ("gate passed" if passed else "gate failed"),
        style="bold green" if passed else "bold red",
    )
    table = Table(title=f"Gate ({found.get('metric')})", title_justify="left")
    for column in ("check", "result", "in words"):
        table.add_column(column)
    checks = found.get("checks") or {}
    for key, label in CHECKS:
        check = checks.get(key) or {}
        if check.get("passed") is None:
            outcome = Text("not available", style="yellow")
        else:
            outcome = Text("passed", style="green") if check["passed"] else Text("failed", style="red")
        table.add_row(label, outcome, escape(str(check.get("message") or "")))
    promotion = (result.get("promotion") or {}).get("message") or ""
    return Group(title, table, Text(f"Promotion: {promotion}"))

"""``shopfloor examples``: the example data sets of the README walkthroughs, written into a folder.

AI4I 2020 ships in the package; the others are copied from a local data folder (``--from`` or
SHOPFLOOR_DATA_DIR, laid out ``<set>/<files>``) when it has them, else downloaded from their public
source. Every file is checked against its recorded sha256 first.
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shopfloor import cli_common as common

examples_app = typer.Typer(
    help="Example data sets for the walkthroughs (checked by sha256).", no_args_is_help=True
)


@examples_app.command("list")
def examples_list() -> None:
    """The example data sets: name, size, licence and source."""
    from rich.table import Table

    from shopfloor.examples.catalog import EXAMPLES

    table = Table(title="Example data sets")
    # the name is what `examples get` takes: never shortened, however narrow the terminal
    table.add_column("name", no_wrap=True, min_width=max(len(name) for name in EXAMPLES))
    for column in ("size", "licence", "source", "fetched from"):
        table.add_column(column)
    for example in EXAMPLES.values():
        origin = "this package" if example.packaged else _host(example)
        size = f"{example.size / 1e6:.1f} MB"
        table.add_row(example.name, size, escape(example.licence), escape(example.source), escape(origin))
    common.out.print(table)


def _host(example: object) -> str:
    from shopfloor.examples.catalog import Example

    assert isinstance(example, Example)
    url = example.archive.url if example.archive else example.files[0].url or ""
    return url.split("/")[2] if "://" in url else url


@examples_app.command("get")
def examples_get(
    name: Annotated[str, typer.Argument(help="Which set (see `shopfloor examples list`).")],
    directory: Annotated[Path, typer.Option("--dir", file_okay=False, help="Write here.")] = Path("."),
    source: Annotated[
        Path | None,
        typer.Option("--from", file_okay=False, help="Local data folder; default: SHOPFLOOR_DATA_DIR."),
    ] = None,
    download: Annotated[
        bool, typer.Option("--download/--offline", help="Download what no local folder has.")
    ] = True,
) -> None:
    """Write example NAME into the folder (default: the current one); prints the paths written."""
    from shopfloor.examples.fetch import get

    local = source if source is not None else common.load_settings().data_dir
    written = get(
        name, directory, local, download=download, report=lambda line: common.err.print(escape(line))
    )
    for path in written:
        typer.echo(str(path))

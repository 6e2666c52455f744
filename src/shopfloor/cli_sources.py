"""``shopfloor sources ...``: a tenant's S3-compatible sources (the endpoints, credentials and buckets
the server reads and writes the tenant's own data with), over the SDK. The secret access key is read
from a hidden prompt or a file, never from the command line, and never printed."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shopfloor import cli_common as common
from shopfloor import cli_render as render

sources_app = typer.Typer(
    help="S3-compatible sources of the tenant (MinIO, Ceph, AWS S3): add, list, remove.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The source's name, unique in the tenant.")]


def _secret(secret_file: Path | None) -> str:
    """The secret access key: the first line of ``secret_file``, else asked for without echo."""
    if secret_file is not None:
        try:
            lines = secret_file.read_text().splitlines()
        except OSError as exc:
            why = f"cannot read {secret_file}: {exc.strerror}"
            raise typer.BadParameter(why, param_hint="--secret-file") from None
        secret = lines[0].strip() if lines else ""
        if not secret:
            why = f"{secret_file} holds no secret on its first line"
            raise typer.BadParameter(why, param_hint="--secret-file")
        return secret
    secret = str(typer.prompt("Secret access key", hide_input=True)).strip()
    if not secret:
        raise typer.BadParameter("the secret access key is empty")
    return secret


@sources_app.command("add")
def sources_add(
    name: NameArg,
    endpoint: Annotated[str, typer.Option(help="The endpoint, http(s)://host[:port].")],
    access_key_id: Annotated[str, typer.Option("--access-key-id", help="The source's access key id.")],
    bucket: Annotated[list[str], typer.Option("--bucket", help="A bucket it serves (repeat for several).")],
    region: Annotated[str, typer.Option(help="The region requests are signed for.")] = "us-east-1",
    secret_file: Annotated[
        Path | None,
        typer.Option("--secret-file", help="Read the secret access key from this file's first line."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a source; the secret access key is asked for (hidden) unless --secret-file gives it."""
    secret = _secret(secret_file)
    with common.make_client() as client:
        made = client.add_source(name, endpoint, access_key_id, secret, buckets=list(bucket), region=region)
    if as_json:
        common.print_json(made)
        return
    rows = [(k, made.get(k)) for k in ("name", "endpoint_url", "region", "access_key_id", "buckets")]
    common.out.print(render.key_values(f"Source {made.get('name')}", rows))
    common.err.print("the secret is stored encrypted with the tenant's key and is never shown")


@sources_app.command("list")
def sources_list(as_json: JsonOpt = False) -> None:
    """List the tenant's sources (never their secrets)."""
    with common.make_client() as client:
        items = client.list_sources()
    if as_json:
        common.print_json(items)
        return
    rows = [
        {**s, "buckets": ", ".join(s.get("buckets") or []), "created_at": common.fmt_time(s["created_at"])}
        for s in items
    ]
    columns = ["name", "endpoint_url", "region", "access_key_id", "buckets", "created_at"]
    common.out.print(render.records_table("Sources", rows, columns))


@sources_app.command("remove")
def sources_remove(name: NameArg) -> None:
    """Remove a source: the server no longer reads or writes its buckets."""
    with common.make_client() as client:
        client.remove_source(name)
    common.err.print(f"source {escape(name)} removed")

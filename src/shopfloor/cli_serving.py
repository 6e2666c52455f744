"""CLI commands over the serving side of the SDK: forecast, optimize, the pretrained hub, masking.

Thin wrappers: each parses its options, makes one SDK call and prints the answer as a table
(or the raw JSON with ``--json``). Errors are shown by the root group in ``shopfloor.cli``.
"""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from shopfloor import cli_common as common
from shopfloor import cli_render as render
from shopfloor.errors import InvalidInput

hub_app = typer.Typer(
    help="Pretrained models served as they are: list, embed texts, zero-shot.", no_args_is_help=True
)
masking_app = typer.Typer(
    help="The tenant's personal-data masking policy (admin): show, set, preview.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")]
VersionOpt = Annotated[
    str | None, typer.Option(help="Model version number or alias; default: the production alias.")
]
#: The keys of an optimisation request (POST /v1/models/NAME/optimize), as Client.optimize takes them.
OPTIMIZE_KEYS = (
    "controls",
    "fixed",
    "objective",
    "derived",
    "constraints",
    "current",
    "trials",
    "sampler",
    "seed",
    "output",
    "tolerance",
)


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not valid JSON: {exc.msg}",
            errors=[{"loc": [path.name, f"line {exc.lineno}"], "msg": exc.msg}],
        ) from None


# -- forecast -----------------------------------------------------------------------------------


def forecast(
    name: str,
    series: Annotated[str, typer.Option(help='Comma-separated series ids, or "all".')] = "all",
    horizon: Annotated[
        int | None, typer.Option(help="Periods ahead; default and most: the model's horizon.", min=1)
    ] = None,
    levels: Annotated[str, typer.Option(help="Interval levels in percent, comma-separated.")] = "80,95",
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Forecast series of a forecast model with prediction intervals: one table per series."""
    try:
        wanted = [float(v) for v in _names(levels)]
    except ValueError:
        raise typer.BadParameter(
            f"expected numbers such as 80,95, got {levels!r}", param_hint="--levels"
        ) from None
    with common.make_client() as client:
        resp = client.forecast(
            name,
            "all" if series.strip() == "all" else _names(series),
            horizon=horizon,
            levels=wanted,
            version=common.parse_version(version),
        )
    if as_json:
        _print_json(resp)
        return
    for table in render.forecasts(resp):
        common.out.print(table)


# -- optimize -----------------------------------------------------------------------------------


def optimize(
    name: str,
    request: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, metavar="REQUEST", help="The request body as JSON."
        ),
    ],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the control settings that minimise or maximise model NAME's prediction.

    REQUEST is the body of POST /v1/models/NAME/optimize as a JSON file: controls, fixed, and
    optionally objective, derived, constraints, current, trials, sampler, seed, output, tolerance.
    Prints the best settings and the predicted value (or why no setting is feasible).
    """
    body = _read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput(f"{request.name} must hold a JSON object (the optimisation request)")
    unknown = sorted(set(body) - set(OPTIMIZE_KEYS))
    if unknown:
        raise InvalidInput(
            f"{request.name}: unknown key(s) {', '.join(unknown)}; expected {', '.join(OPTIMIZE_KEYS)}",
            errors=[{"loc": [request.name, key], "msg": "unknown key"} for key in unknown],
        )
    if "controls" not in body:
        raise InvalidInput(
            f"{request.name} has no 'controls'",
            errors=[{"loc": [request.name, "controls"], "msg": "required"}],
        )
    body.setdefault("fixed", {})
    with common.make_client() as client:
        resp = client.optimize(name, version=common.parse_version(version), **body)
    if as_json:
        _print_json(resp)
        return
    common.out.print(render.optimization(resp))


# -- hub ----------------------------------------------------------------------------------------

ModelOpt = Annotated[str, typer.Option("--model", help="Hub model name (see `shopfloor hub list`).")]
VariantOpt = Annotated[str | None, typer.Option(help="torch, onnx or int8; default: the server's.")]


@hub_app.command("list")
def hub_list(as_json: JsonOpt = False) -> None:
    """List the pretrained models the server serves."""
    with common.make_client() as client:
        items = client.hub_models()
    if as_json:
        _print_json(items)
        return
    common.out.print(render.records_table("Hub models", items))


@hub_app.command("embed")
def hub_embed(
    texts: Annotated[list[str], typer.Argument(metavar="TEXT...", help="Texts to embed.")],
    model: ModelOpt = "all-MiniLM-L6-v2",
    variant: VariantOpt = None,
) -> None:
    """Print the normalised embeddings of the texts as JSON (one list of floats per text)."""
    with common.make_client() as client:
        resp = client.embed(list(texts), model=model, variant=variant)
    _print_json(resp)


@hub_app.command("classify")
def hub_classify(
    texts: Annotated[list[str], typer.Argument(metavar="TEXT...", help="Texts to classify.")],
    labels: Annotated[str, typer.Option(help="Comma-separated label names (at least two).")],
    template: Annotated[
        str, typer.Option(help="A label's phrasing; {label} is the only placeholder.")
    ] = "{label}",
    model: ModelOpt = "all-MiniLM-L6-v2",
    variant: VariantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Zero-shot: rank the label names for each text by similarity."""
    with common.make_client() as client:
        resp = client.zero_shot(list(texts), _names(labels), model=model, template=template, variant=variant)
    if as_json:
        _print_json(resp)
        return
    common.out.print(render.zero_shot(resp, list(texts)))


# -- masking ------------------------------------------------------------------------------------


@masking_app.command("show")
def masking_show() -> None:
    """Print the tenant's masking policy as JSON (the body `masking set` takes)."""
    with common.make_client() as client:
        _print_json(client.masking_policy())


@masking_app.command("set")
def masking_set(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE",
            help='JSON: {"names": [...], "patterns": [{"name", "regex"}], "reversible": false}',
        ),
    ],
) -> None:
    """Replace the masking policy with the one in FILE; it applies to later uploads."""
    body = _read_json(file)
    if not isinstance(body, dict):
        raise InvalidInput(f"{file.name} must hold a JSON object (the masking policy)")
    unknown = sorted(set(body) - {"names", "patterns", "reversible"})
    if unknown:
        raise InvalidInput(
            f"{file.name}: unknown key(s) {', '.join(unknown)}; expected names, patterns, reversible",
            errors=[{"loc": [file.name, key], "msg": "unknown key"} for key in unknown],
        )
    with common.make_client() as client:
        stored = client.set_masking_policy(
            body.get("names") or [], body.get("patterns") or [], bool(body.get("reversible", False))
        )
    _print_json(stored)
    common.err.print(
        f"masking policy stored: {len(stored.get('names') or [])} name(s), "
        f"{len(stored.get('patterns') or [])} pattern(s)"
    )


@masking_app.command("preview")
def masking_preview(
    text: Annotated[str, typer.Argument(metavar="TEXT")],
    as_json: JsonOpt = False,
) -> None:
    """Show what the policy does to TEXT (nothing is stored): the masked text, then counts per kind."""
    with common.make_client() as client:
        resp = client.preview_masking(text)
    if as_json:
        _print_json(resp)
        return
    typer.echo(resp.get("text", ""))
    counts = resp.get("counts") or {}
    common.err.print(escape(", ".join(f"{kind}: {n}" for kind, n in counts.items()) or "nothing masked"))

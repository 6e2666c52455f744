"""The ``shopfloor`` command: serve the API, and drive it through the SDK.

Every command but ``serve`` and ``keys create`` talks to SHOPFLOOR_URL with SHOPFLOOR_API_KEY.
Errors the server reports are shown (title, detail, where) in one place, :class:`_Group`, with
exit code 1 and no traceback. Heavy imports (httpx, pandas, the server) load inside commands so
that ``shopfloor --help`` stays fast.
"""

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.markup import escape

from shopfloor import cli_common as common
from shopfloor import cli_render as render
from shopfloor import cli_retrain as retraining
from shopfloor import cli_serving as serving
from shopfloor.cli_alerts import alerts_app
from shopfloor.cli_challenger import challenger_app
from shopfloor.cli_drift import drift_app
from shopfloor.cli_examples import examples_app
from shopfloor.cli_monitoring import monitoring_app
from shopfloor.cli_resources import datasets_app, jobs_app, keys_app, models_app
from shopfloor.cli_sources import sources_app
from shopfloor.cli_tenants import tenants_app
from shopfloor.errors import ShopfloorError
from shopfloor.tasks import catalog
from shopfloor.version import __version__

#: Every family a training job can fit, from the catalog (imported families have no training).
TRAINABLE_TASKS = catalog.tasks_where(lambda c: c.trainable)
#: Families that read sensor histories (--asset-column/--time-column), and those that take no --target.
SERIES_TASKS = catalog.tasks_where(lambda c: c.inputs == "series")
NO_TARGET_TASKS = catalog.tasks_where(lambda c: c.trainable and c.target != "given")


class _Group(typer.core.TyperGroup):
    """The root group: turns every ShopfloorError raised by a command into a red message and exit 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ShopfloorError as exc:
            common.print_error(exc)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="shopfloor",
    help="Shopfloor: train, explain, deploy and serve models for manufacturing, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals would include the API key
)
app.add_typer(keys_app, name="keys")
app.add_typer(datasets_app, name="datasets")
app.add_typer(jobs_app, name="jobs")
app.add_typer(models_app, name="models")
models_app.command("retrain")(retraining.retrain)
models_app.add_typer(challenger_app, name="challenger")
app.add_typer(tenants_app, name="tenants")
app.add_typer(serving.hub_app, name="hub")
app.add_typer(serving.masking_app, name="masking")
app.add_typer(alerts_app, name="alerts")
app.add_typer(sources_app, name="sources")
app.command()(serving.forecast)
app.command()(serving.optimize)
app.add_typer(examples_app, name="examples")
app.add_typer(monitoring_app, name="monitoring")
app.add_typer(drift_app, name="drift")

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, metavar="FILE")]
VersionOpt = Annotated[
    str | None, typer.Option(help="Model version number or alias; default: the production alias.")
]


class Method(StrEnum):
    shap = "shap"
    lime = "lime"


class Role(StrEnum):
    """What one ``shopfloor serve`` process runs (settings ``role``)."""

    api = "api"
    worker = "worker"
    all = "all"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"shopfloor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Shopfloor: train, explain, deploy and serve models for manufacturing, offline.

    Client commands use SHOPFLOOR_URL (default http://127.0.0.1:8000) and SHOPFLOOR_API_KEY.
    """


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (SHOPFLOOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (SHOPFLOOR_PORT).", min=1, max=65535)] = None,
    workers: Annotated[
        int | None, typer.Option(help="API worker processes (SHOPFLOOR_WORKERS).", min=1)
    ] = None,
    role: Annotated[
        Role | None,
        typer.Option(
            help="api: HTTP only, no job runner; worker: the job runner only, no HTTP port, claiming "
            "jobs from the registry; all: both (SHOPFLOOR_ROLE, default all).",
            case_sensitive=False,
        ),
    ] = None,
) -> None:
    """Run the API server and the job runner (or one of them, see --role) with the SHOPFLOOR_*
    settings, overridden by the options given."""
    settings = common.load_settings(
        host=host, port=port, workers=workers, role=role.value if role is not None else None
    )
    try:
        from shopfloor.server import serve as run_server
    except ModuleNotFoundError as exc:
        if exc.name != "shopfloor.server":
            raise
        raise ShopfloorError("this installation has no API server (shopfloor.server is missing)") from None

    run_server(settings)


@app.command()
def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    delete_orphans: Annotated[
        bool, typer.Option(help="Remove artifact folders that no registry row points to.")
    ] = False,
) -> None:
    """Check every dataset and model version against its files and signature; list orphans."""
    import json

    from shopfloor.bootstrap import prepare
    from shopfloor.services.doctor import examine

    platform = prepare(common.load_settings())
    try:
        report = examine(platform, delete_orphans=delete_orphans).as_dict()
    finally:
        platform.close()
    if json_output:
        common.out.print_json(json.dumps(report, default=str))
    else:
        c = report["checked"]
        common.err.print(
            f"checked {c['datasets']} datasets, {c['versions']} model versions, {c['jobs']} jobs"
        )
        for p in report["problems"]:
            common.out.print(f"[red]{p['kind']} {p['tenant']}/{p['target']}[/red]: {p['detail']}")
        for o in report["orphans"]:
            common.out.print(f"[yellow]orphan[/yellow] {o}" + (" (deleted)" if delete_orphans else ""))
        if not report["problems"]:
            common.err.print("[green]registry and artifacts are consistent[/green]")
    raise typer.Exit(1 if report["problems"] else 0)


def _split(values: list[str] | None) -> list[str]:
    # --exclude a --exclude b,c  ->  [a, b, c]
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _options(values: list[str] | None) -> dict[str, Any] | None:
    """``["cap=125", "candidates=[\"gbm\"]"]`` -> ``{"cap": 125, "candidates": ["gbm"]}``."""
    if not values:
        return None
    out: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint="--option")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _check_task(value: str) -> str:
    trainable = catalog.tasks_where(lambda c: c.trainable)  # read now: a family may be registered later
    if value not in trainable:
        raise typer.BadParameter(f"{value!r} is not a task; choose from {', '.join(trainable)}")
    return value


@app.command()
def train(
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset id (see `shopfloor datasets list`).")],
    name: Annotated[str, typer.Option("--name", help="Model name; a new version is registered under it.")],
    target: Annotated[
        str | None, typer.Option(help=f"Column to predict ({catalog.join_names(NO_TARGET_TASKS)} take none).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Columns to leave out; repeat it or separate with commas.")
    ] = None,
    task: Annotated[
        str,
        typer.Option(
            callback=_check_task,
            help=f"The task family: {', '.join(TRAINABLE_TASKS)}. Series families "
            f"({', '.join(SERIES_TASKS)}) read --asset-column/--time-column; "
            f"{catalog.join_names(NO_TARGET_TASKS)} take no --target.",
        ),
    ] = catalog.DEFAULT_TASK,
    asset_column: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(SERIES_TASKS)}: the asset id column (default: as uploaded)."),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(SERIES_TASKS)}: the time or cycle column (default: as uploaded)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(help="A task option as KEY=VALUE (VALUE read as JSON when it parses); repeatable."),
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Metric that picks the best candidate.")] = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Seconds to search.", min=0)
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    watch: Annotated[bool, typer.Option("--watch/--no-watch", help="Follow the job until it ends.")] = True,
) -> None:
    """Train a model on a dataset: prints the job id, then follows it (exit 1 if it fails)."""
    with common.make_client() as client:
        job = client.train(
            dataset,
            target,
            name,
            task=task,
            exclude=_split(exclude),
            metric=metric,
            time_budget_s=time_budget,
            seed=seed,
            asset_column=asset_column,
            time_column=time_column,
            options=_options(option),
        )
        typer.echo(job["id"])
        if not watch:
            return
        job = common.watch_job(client, job["id"])
    result = job.get("result") or {}
    if result:
        common.out.print(render.key_values("Result", common.flatten(result)))


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
#: Files sent as vibration recordings without --recordings (CSV and Parquet are records tables).
RECORDING_SUFFIXES = frozenset({".wav", ".npy", ".npz", ".mat"})


@app.command()
def predict(
    name: str,
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, metavar="FILE..."),
    ],
    version: VersionOpt = None,
    recordings: Annotated[
        bool,
        typer.Option("--recordings", help="Send the files as recordings, CSV and Parquet ones too."),
    ] = False,
    sampling_rate: common.SamplingRateOpt = None,
    channels: common.ChannelsOpt = None,
    rpm: common.RpmOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")] = False,
) -> None:
    """Score the records in FILE (CSV, Parquet, JSON list or {"records": [...]}) with model NAME;
    for an image model, the part images given (shopfloor predict parts part1.png part2.png); for a
    model of vibration recordings, the recording files given, one answer each (shopfloor predict
    bearings pump1.mat pump2.wav --sampling-rate 12000; --recordings for CSV or Parquet ones)."""
    recorded = [f for f in files if recordings or f.suffix.lower() in RECORDING_SUFFIXES]
    if recorded:
        _predict_recordings(name, files, recorded, version, sampling_rate, channels, rpm, as_json)
        return
    for given, flag in ((sampling_rate, "--sampling-rate"), (channels, "--channels"), (rpm, "--rpm")):
        if given is not None:
            raise typer.BadParameter(
                "is for recording files (.wav .npy .npz .mat, or --recordings)", param_hint=flag
            )
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        if len(files) > 1:
            raise typer.BadParameter("give one records file (or several images)", param_hint="FILE")
        _send_records("predict", name, files[0], version, as_json, render.predictions)
        return
    if len(images) != len(files):
        others = ", ".join(f.name for f in files if f not in images)
        raise typer.BadParameter(f"images and records files cannot be mixed ({others})", param_hint="FILE")
    with common.make_client() as client:
        resp = client.predict_images(name, images, version=common.parse_version(version))
    if as_json:
        typer.echo(json.dumps(resp, indent=2))
        return
    for prediction, image in zip(resp.get("predictions") or [], images, strict=False):
        prediction.setdefault("image", image.name)
    common.out.print(render.predictions(resp))


def _predict_recordings(
    name: str,
    files: list[Path],
    recorded: list[Path],
    version: str | None,
    sampling_rate: float | None,
    channels: str | None,
    rpm: float | None,
    as_json: bool,
) -> None:
    if len(recorded) != len(files):
        others = ", ".join(f.name for f in files if f not in recorded)
        raise typer.BadParameter(
            f"recordings and other files cannot be mixed ({others}); --recordings sends all as recordings",
            param_hint="FILE",
        )
    with common.make_client() as client:
        resp = client.predict_recordings(
            name, files, sampling_rate, channels, rpm, version=common.parse_version(version)
        )
    if as_json:
        typer.echo(json.dumps(resp, indent=2))
        return
    common.out.print(render.recording_predictions(resp))


@app.command()
def explain(
    name: str,
    file: FileArg,
    method: Annotated[Method, typer.Option(help="Explanation method.")] = Method.shap,
    version: VersionOpt = None,
    top: Annotated[int, typer.Option(help="Contributions shown per record.", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")] = False,
) -> None:
    """Explain the predictions for the records in FILE: top feature contributions per record."""
    from shopfloor.client import records_payload

    records = records_payload(common.read_records(file))
    with common.make_client() as client:
        resp = client.explain(name, records, method=method.value, version=common.parse_version(version))
    if as_json:
        typer.echo(json.dumps(resp, indent=2))
        return
    common.out.print(render.explanations(resp, top, inputs=records))


@app.command()
def rules(
    name: str,
    version: VersionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")] = False,
) -> None:
    """Show the model's surrogate decision rules with support and precision, and their fidelity."""
    with common.make_client() as client:
        resp = client.rules(name, version=common.parse_version(version))
    if as_json:
        typer.echo(json.dumps(resp, indent=2))
        return
    common.out.print(render.rules(resp))


@app.command()
def batch(
    name: str,
    file: FileArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="Default: FILE stem + .scored.csv.")
    ] = None,
    version: VersionOpt = None,
    label_column: Annotated[
        str | None,
        typer.Option(help="anomaly models: a 0/1 column of known events, to evaluate the detection."),
    ] = None,
) -> None:
    """Score a whole file as a job, follow it, and download the scored CSV."""
    dest = output or file.with_name(f"{file.stem}.scored.csv")
    with common.make_client() as client:
        job = client.batch(name, file, version=common.parse_version(version), label_column=label_column)
        typer.echo(job["id"])
        job = common.watch_job(client, job["id"])
        client.job_result(job["id"], dest=dest)
    evaluation = (job.get("result") or {}).get("evaluation")
    if evaluation:
        common.out.print(render.key_values("Evaluation against known events", common.flatten(evaluation)))
    common.err.print(f"[green]wrote {escape(str(dest))}[/]")


@app.command()
def score(
    name: str,
    file: FileArg,
    version: VersionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON response.")] = False,
) -> None:
    """Stream the newest points in FILE to anomaly model NAME; the server keeps each asset's window."""
    _send_records("score", name, file, version, as_json, render.stream_results)


def _send_records(
    call: str,
    name: str,
    file: Path,
    version: str | None,
    as_json: bool,
    show: Callable[[dict[str, Any]], Any],
) -> None:
    """Send FILE's records to ``client.<call>`` and print the answer (table or raw JSON) and its warnings."""
    records = common.read_records(file)
    with common.make_client() as client:
        resp = getattr(client, call)(name, records, version=common.parse_version(version))
    if as_json:
        typer.echo(json.dumps(resp, indent=2))
        return
    common.out.print(show(resp))
    for warning in resp.get("warnings") or []:
        common.err.print(f"[yellow]warning: {escape(str(warning))}[/]")


def main() -> None:
    """Console-script entry point (``shopfloor = shopfloor.cli:main``)."""
    from shopfloor.security.files import owner_only_files

    owner_only_files()  # before serve, local commands or job processes create any file
    app()


if __name__ == "__main__":
    main()

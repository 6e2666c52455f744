"""CLI command groups, one per API resource: keys, datasets, jobs, models."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shopfloor import cli_common as common
from shopfloor import cli_render as render

keys_app = typer.Typer(
    help="API keys: create (locally, no server needed), list, revoke; rotate the master key.",
    no_args_is_help=True,
)
datasets_app = typer.Typer(help="Upload and inspect datasets.", no_args_is_help=True)
jobs_app = typer.Typer(help="Follow, inspect and cancel jobs; download their results.", no_args_is_help=True)
models_app = typer.Typer(
    help="Registered models, their versions, aliases and evaluation plots.", no_args_is_help=True
)


class PlotKind(StrEnum):
    confusion = "confusion"
    importance = "importance"
    stability = "stability"
    candidates = "candidates"
    horizon = "horizon"


class Layout(StrEnum):
    long = "long"
    wide = "wide"


class ExportFormat(StrEnum):
    onnx = "onnx"
    mlflow = "mlflow"


class Role(StrEnum):
    admin = "admin"
    builder = "builder"
    consumer = "consumer"
    metrics = "metrics"


# -- keys ---------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to (local creation only).")] = "default",
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    remote: Annotated[
        bool,
        typer.Option("--remote", help="Create it through the API (SHOPFLOOR_URL) in the caller's tenant."),
    ] = False,
    aws: Annotated[
        bool,
        typer.Option(
            "--aws",
            help="Also issue an AWS access key id and secret (for AWS SDKs: Lookout for Equipment); "
            "prints the three as exported shell variables, for eval.",
        ),
    ] = False,
) -> None:
    """Create an API key and print the secret alone on stdout: KEY=$(shopfloor keys create --role admin).

    Without --remote this writes straight into the registry under SHOPFLOOR_HOME, which is how the
    first admin key is made. With --aws stdout holds `export SHOPFLOOR_API_KEY=`, `AWS_ACCESS_KEY_ID=`
    and `AWS_SECRET_ACCESS_KEY=` lines: eval "$(shopfloor keys create --role builder --aws)" sets them
    for the programs the shell starts (AWS SDKs read the two AWS variables themselves).
    """
    if remote:
        key = common.make_client().create_key(role.value, name=name, aws=aws)
    else:
        from shopfloor import bootstrap

        key = bootstrap.create_key(common.load_settings(), role=role.value, tenant=tenant, name=name, aws=aws)
    if aws:
        typer.echo(f"export SHOPFLOOR_API_KEY={key['secret']}")
        typer.echo(f"export AWS_ACCESS_KEY_ID={key['aws_access_key_id']}")
        typer.echo(f"export AWS_SECRET_ACCESS_KEY={key['aws_secret_access_key']}")
    else:
        typer.echo(key["secret"])
    common.err.print(
        f"created key {escape(str(key.get('id')))} for tenant {escape(str(key.get('tenant') or tenant))}, "
        f"role {role.value}; the secret is shown only this once"
    )


@keys_app.command("list")
def keys_list() -> None:
    """List the tenant's API keys (never their secrets)."""
    with common.make_client() as client:
        items = client.list_keys()
    table = Table(title="API keys", title_justify="left")
    for column in ("id", "tenant", "role", "name", "created", "revoked"):
        table.add_column(column)
    for k in items:
        table.add_row(
            escape(str(k.get("id"))),
            escape(str(k.get("tenant"))),
            escape(str(k.get("role"))),
            escape(common.fmt(k.get("name"))),
            common.fmt_time(k.get("created_at")),
            common.fmt_time(k.get("revoked_at")),
        )
    common.out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Revoke an API key; requests made with it fail from now on."""
    with common.make_client() as client:
        client.revoke_key(key_id)
    common.err.print(f"revoked key {escape(key_id)}")


@keys_app.command("rotate-master")
def keys_rotate_master(
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            exists=True,
            dir_okay=False,
            readable=True,
            help="File holding the new master key (64 hex characters). Required unless the "
            "development key in SHOPFLOOR_HOME/master.key is in use.",
        ),
    ] = None,
) -> None:
    """Re-wrap every tenant data key under a new master key, locally against SHOPFLOOR_HOME.

    Data files are not re-encrypted and signatures stay valid. Prints the new key id on stdout.
    Without --new-key-file (development mode) a new key replaces SHOPFLOOR_HOME/master.key, the
    old one is kept as master.key.previous. Restart running servers afterwards.
    """
    from shopfloor.security import crypto, rotation

    settings = common.load_settings()
    # Errors (wrong current key, malformed new key) are ShopfloorErrors: the root group prints them.
    if new_key_file is None:
        result = rotation.rotate_development_key(settings)
    else:
        result = rotation.rotate_master(settings, crypto.read_key_file(new_key_file))
    typer.echo(result["new_key_id"])
    common.err.print(
        f"re-wrapped {result['rewrapped']} of {result['tenants']} tenant key(s): "
        f"master key {result['old_key_id']} → {result['new_key_id']}"
    )
    if new_key_file is None:
        common.err.print(
            f"{escape(result['key_file'])} now holds the new key; the old one is in "
            f"{escape(result['previous_key_file'])}. Restart running servers."
        )
    else:
        common.err.print(
            f"set SHOPFLOOR_MASTER_KEY_FILE={escape(str(new_key_file.resolve()))} (and unset "
            "SHOPFLOOR_MASTER_KEY) for every server and job runner, then restart them; until then "
            "they cannot open tenant keys they have not loaded yet."
        )


# -- datasets -----------------------------------------------------------------------------------


@datasets_app.command("upload")
def datasets_upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    name: Annotated[
        str | None, typer.Option(help="Dataset name; default: the file name without suffix.")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="auto (default: Parquet, recordings or a zip of images by content, else CSV), csv, "
            "parquet, whitespace, images or signals.",
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(help="Comma-separated column names, for a text file without a header line."),
    ] = None,
    asset_column: Annotated[
        str | None, typer.Option(help="Sensor dataset: the column naming the asset (with --time-column).")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option(help="Sensor dataset: the time column (cycle numbers or timestamps).")
    ] = None,
    settings_columns: Annotated[
        str | None, typer.Option(help="Sensor dataset: comma-separated operating-settings columns.")
    ] = None,
    layout: Annotated[
        Layout | None,
        typer.Option(
            help="long (default: one row per observation) or wide (one row per series, one column per "
            "period, e.g. W0..W51; stored in long form)."
        ),
    ] = None,
    series_column: Annotated[
        str | None,
        typer.Option(help="Wide tables: the series id column (default: the first non-period one)."),
    ] = None,
    period_prefix: Annotated[
        str | None, typer.Option(help="Wide tables: the period columns' name prefix, e.g. W.")
    ] = None,
    sampling_rate: common.SamplingRateOpt = None,
    channels: common.ChannelsOpt = None,
    rpm: common.RpmOpt = None,
) -> None:
    """Upload a CSV, Parquet or whitespace-separated file, a zip of images, or vibration recordings;
    prints the dataset's schema and its id.

    A sensor dataset (long form, one row per asset and time) names its asset and time columns:
    shopfloor datasets upload train_FD001.txt --format whitespace --columns unit,cycle,... \
    --asset-column unit --time-column cycle --settings-columns setting1,setting2,setting3

    A wide table of weekly sales (one row per product, columns W0..W51) is stored in long form:
    shopfloor datasets upload sales.csv --layout wide --series-column Product_Code --period-prefix W

    Vibration recordings (.wav .npy .npz .mat, or a zip of them with a labels.csv of file,label):
    shopfloor datasets upload bearings.zip --format signals --sampling-rate 12000 --channels FE_time
    """
    with common.make_client() as client:
        ds = client.upload_dataset(
            file,
            name=name,
            format=format,
            columns=columns,
            asset_column=asset_column,
            time_column=time_column,
            settings_columns=settings_columns,
            layout=layout.value if layout is not None else None,
            series_column=series_column,
            period_prefix=period_prefix,
            sampling_rate=sampling_rate,
            channels=channels,
            rpm=rpm,
        )
    _show_upload(ds)


def _show_upload(ds: dict[str, Any]) -> None:
    """The stored dataset's schema on stdout; what the server made of the file and its id on stderr."""
    common.out.print(render.dataset(ds))
    conversion = ds.get("conversion")
    if conversion:
        common.err.print(f"wide table stored in long form: {escape(common.fmt(conversion, 300))}")
    series = ds.get("series")
    if series:
        kept = len(series.get("sensors") or [])
        modes = series.get("operating_modes")
        dropped = ", ".join(f"{d['name']} ({d['reason']})" for d in series.get("dropped") or []) or "none"
        common.err.print(
            f"sensor dataset: {series.get('assets')} assets, {kept} sensors kept"
            f"{f', {modes} operating mode(s)' if modes else ''}; dropped: {escape(dropped)}"
        )
        for note in series.get("notes") or []:
            common.err.print(f"note: {escape(str(note))}")
    common.err.print(f"dataset id: [bold]{escape(str(ds.get('id')))}[/]")


@datasets_app.command("list")
def datasets_list() -> None:
    """List the tenant's datasets."""
    with common.make_client() as client:
        items = client.list_datasets()
    table = Table(title="Datasets", title_justify="left")
    for column in ("id", "name", "version", "rows", "columns", "format", "created"):
        table.add_column(column)
    for d in items:
        table.add_row(
            escape(str(d.get("id"))),
            escape(str(d.get("name"))),
            str(d.get("version")),
            str(d.get("rows")),
            str(len(d.get("columns") or [])),
            escape(str(d.get("format"))),
            common.fmt_time(d.get("created_at")),
        )
    common.out.print(table)


@datasets_app.command("show")
def datasets_show(dataset_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Show a dataset's columns: name, type, missing values and summary statistics."""
    with common.make_client() as client:
        common.out.print(render.dataset(client.get_dataset(dataset_id)))


# -- jobs ---------------------------------------------------------------------------------------


@jobs_app.command("watch")
def jobs_watch(
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    poll: Annotated[float, typer.Option(help="Seconds between polls.", min=0.05)] = 0.5,
) -> None:
    """Follow a job with a progress bar; exit 0 if it succeeds, 1 if it fails or is cancelled."""
    with common.make_client() as client:
        job = common.watch_job(client, job_id, poll=poll)
    if job.get("result"):
        common.out.print(render.key_values("Result", common.flatten(job["result"])))


@jobs_app.command("show")
def jobs_show(job_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Show one job: status, stage, progress, parameters, result or error."""
    with common.make_client() as client:
        job = client.get_job(job_id)
    rows = [
        (k, job.get(k)) for k in ("type", "status", "stage", "message", "error") if job.get(k) is not None
    ]
    rows.append(("progress", f"{common._percent(job.get('progress')):.0f}%"))
    rows.append(("attempts", job.get("attempts", 0)))
    rows += [
        (k.removesuffix("_at"), common.fmt_time(job.get(k)))
        for k in ("created_at", "started_at", "finished_at")
    ]
    rows += [(f"params.{k}", v) for k, v in common.flatten(job.get("params") or {})]
    rows += [(f"result.{k}", v) for k, v in common.flatten(job.get("result") or {})]
    common.out.print(render.key_values(f"Job {job.get('id')}", rows))


@jobs_app.command("list")
def jobs_list() -> None:
    """List the tenant's jobs, newest as the server orders them."""
    with common.make_client() as client:
        items = client.list_jobs()
    table = Table(title="Jobs", title_justify="left")
    for column in ("id", "type", "status", "progress", "stage", "created"):
        table.add_column(column)
    styles = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}
    for j in items:
        status = str(j.get("status"))
        table.add_row(
            escape(str(j.get("id"))),
            escape(str(j.get("type"))),
            f"[{styles.get(status, 'default')}]{escape(status)}[/]",
            f"{common._percent(j.get('progress')):.0f}%",
            escape(common.fmt(j.get("stage"))),
            common.fmt_time(j.get("created_at")),
        )
    common.out.print(table)


@jobs_app.command("cancel")
def jobs_cancel(job_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Ask a queued or running job to stop."""
    with common.make_client() as client:
        job = client.cancel_job(job_id)
    common.err.print(f"job {escape(job_id)}: {escape(str(job.get('status')))}")


@jobs_app.command("result")
def jobs_result(
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Download a job's output file (a batch job's scored CSV) to FILE or stdout."""
    with common.make_client() as client:
        if output is not None:
            path = client.job_result(job_id, dest=output)
            common.err.print(f"wrote {escape(str(path))}")
            return
        data = client.job_result(job_id)
    stream = typer.get_binary_stream("stdout")
    stream.write(data)
    stream.flush()


# -- models -------------------------------------------------------------------------------------


@models_app.command("list")
def models_list() -> None:
    """List registered models with their latest version and aliases."""
    with common.make_client() as client:
        common.out.print(render.models(client.list_models()))


@models_app.command("show")
def models_show(
    name: str,
    version: Annotated[str | None, typer.Option(help="Version number or alias; default: latest.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw VersionPublic JSON.")] = False,
) -> None:
    """Show a model version: metrics, candidates, stability and warnings."""
    with common.make_client() as client:
        if version is None:
            model = client.get_model(name)
            latest = int(model["latest_version"])
            found = [v for v in model.get("versions") or [] if v.get("version") == latest]
            detail = found[0] if found and found[0].get("metrics") else client.get_version(name, latest)
        else:
            detail = client.get_version(name, common.parse_version(version) or version)
    if as_json:
        typer.echo(json.dumps(detail, indent=2))
    else:
        common.out.print(render.model_version(detail))


@models_app.command("promote")
def models_promote(
    name: str,
    version: int,
    alias: Annotated[str, typer.Option(help="The alias to point at VERSION.")] = "production",
    force: Annotated[
        bool, typer.Option(help="Move production to a version whose retraining gate failed.")
    ] = False,
) -> None:
    """Point an alias (default: production) at a model version."""
    with common.make_client() as client:
        result = client.set_alias(name, alias, version, force=force)
    common.err.print(
        f"[green]{escape(str(result.get('model', name)))}@{escape(str(result.get('alias', alias)))} "
        f"→ version {result.get('version', version)}[/]"
    )


@models_app.command("delete")
def models_delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a model with every version, alias and file (cannot be undone)."""
    if not yes:
        typer.confirm(f"Delete model {name!r} with every version?", abort=True)
    with common.make_client() as client:
        client.delete_model(name)
    common.err.print(f"[green]{escape(name)}: deleted[/]")


@models_app.command("describe")
def models_describe(
    name: str,
    text: Annotated[str, typer.Argument(help='What the model is for, in plain text; "" clears it.')],
) -> None:
    """Set a model's description (at most 2,000 characters), shown in lists and the console."""
    with common.make_client() as client:
        result = client.describe_model(name, text)
    chars = len(result.get("description") or "")
    shown = escape(str(result.get("name", name)))
    common.err.print(f"[green]{shown}: description set ({chars} characters)[/]")


@models_app.command("plot")
def models_plot(
    name: str,
    kind: Annotated[PlotKind, typer.Option(help="Which chart.")],
    version: Annotated[int | None, typer.Option(help="Version number; default: latest.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="PNG file; default: NAME-vVERSION-KIND.png."),
    ] = None,
) -> None:
    """Save a chart of a model version's evaluation as PNG and print its path.

    confusion: the held-out confusion matrix (classification only).
    importance: mean |SHAP contribution| per input column.
    stability: each metric's spread across seeded splits.
    candidates: cross-validation score of every candidate model.
    horizon: forecast models: each candidate's backtest error per step ahead.
    """
    with common.make_client() as client:
        if version is None:
            version = int(client.get_model(name)["latest_version"])
        target = output or Path(f"{name}-v{version}-{kind.value}.png")
        path = client.plot(name, version, kind.value, dest=target)
    typer.echo(str(path))


@models_app.command("export")
def models_export(
    name: str,
    version: Annotated[int, typer.Option(help="Version number.")],
    format: Annotated[  # noqa: A002 - the option's name
        ExportFormat, typer.Option("--format", help="onnx: one ONNX file; mlflow: a zipped MLflow model.")
    ] = ExportFormat.onnx,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", dir_okay=False, help="Default: NAME-vVERSION.onnx or NAME-vVERSION-mlflow.zip."
        ),
    ] = None,
) -> None:
    """Download a trained tabular model as ONNX (its preprocessing inside: it takes the raw columns)
    or as an MLflow model directory with that ONNX flavour, and print the file's path.

    Outputs are named as batch scoring's columns: prediction and proba_<class>. See
    docs/protocols/portability.md for running it with onnxruntime or mlflow.
    """
    suffix = ".onnx" if format is ExportFormat.onnx else "-mlflow.zip"
    target = output or Path(f"{name}-v{version}{suffix}")
    busy = common.err.status(f"exporting {escape(name)} v{version} as {format.value}")
    with common.make_client() as client, busy:
        path = client.export_model(name, version, format.value, dest=target)
    common.err.print(f"wrote {escape(str(path))} ({path.stat().st_size:,} bytes)")
    typer.echo(str(path))

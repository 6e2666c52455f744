"""What every CLI command shares: the consoles, the client factory, error display, job watching.

Kept free of heavy imports (httpx, pandas, the server) so that ``shopfloor --help`` stays fast;
those load inside the functions that need them.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from shopfloor.errors import InvalidInput, ShopfloorError

if TYPE_CHECKING:
    from shopfloor.client import Client
    from shopfloor.settings import Settings

# Vibration recordings: what an upload, or a request scoring recording files, says of every file
# that does not say it itself (shared by `datasets upload` and `predict`).
SamplingRateOpt = Annotated[
    float | None,
    typer.Option("--sampling-rate", help="Recordings: samples per second, for files that do not say.", min=0),
]
ChannelsOpt = Annotated[
    str | None,
    typer.Option(help="Recordings: comma-separated channels to read, by name or name ending (FE_time)."),
]
RpmOpt = Annotated[
    float | None, typer.Option(help="Recordings: shaft speed (rpm), for files that do not say.", min=0)
]
# Windows of a model's prediction log (live performance, drift over time) and a chart of them.
LogWindowOpt = Annotated[
    str, typer.Option(help="A time span per window (1h, 1d, 7d) or logged predictions per window (5000).")
]
PlotOpt = Annotated[Path | None, typer.Option(dir_okay=False, help="Also write the chart (PNG) here.")]

# Data goes to stdout, everything meant for a person (progress, notes, errors) to stderr,
# so that `KEY=$(shopfloor keys create ...)` and `shopfloor jobs result ID > out.csv` work.
out = Console(soft_wrap=False)
err = Console(stderr=True)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (what JSON cannot hold, as its text)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def make_client() -> "Client":
    """The SDK client for SHOPFLOOR_URL / SHOPFLOOR_API_KEY (tests replace this function)."""
    from shopfloor.client import Client

    return Client()


def load_settings(**overrides: Any) -> "Settings":
    """Server-side settings from SHOPFLOOR_*, with the given non-None overrides applied."""
    from pydantic import ValidationError

    from shopfloor.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise InvalidInput(
            "invalid Shopfloor settings",
            errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()],
        ) from None


def print_error(exc: ShopfloorError) -> None:
    """Show a problem the way the API reports it: title, detail, then where (loc: msg)."""
    title = str(exc.extra.get("title") or exc.title)
    status = f" (HTTP {exc.status})" if exc.extra.get("type") else ""
    err.print(f"[bold red]Error: {escape(title)}{status}[/]")
    if exc.detail and exc.detail != title:
        err.print(f"[red]{escape(exc.detail)}[/]")
    for item in exc.errors:
        loc = item.get("loc")
        where = ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else str(loc or "")
        msg = str(item.get("msg", ""))
        err.print(f"[red]  - {escape(where)}: {escape(msg)}[/]" if where else f"[red]  - {escape(msg)}[/]")


# -- formatting ---------------------------------------------------------------------------------


def fmt(value: Any, limit: int = 80) -> str:
    """A compact, human string for any JSON value."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {fmt(v, limit)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(fmt(v, limit) for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_time(value: Any) -> str:
    """ISO 8601 from the API -> 'YYYY-MM-DD HH:MM:SS'."""
    return str(value)[:19].replace("T", " ") if value else "-"


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts -> (dotted.key, scalar) rows, for metric and stability tables."""
    if not isinstance(data, dict):
        return [(prefix, data)] if prefix else []
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            rows.extend(flatten(value, name))
        else:
            rows.append((name, value))
    return rows


def parse_version(value: str | None) -> int | str | None:
    """``--version 3`` -> 3; anything else (an alias such as ``production``) is passed as given."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value


# -- input files --------------------------------------------------------------------------------


def read_records(path: Path) -> Any:
    """Records from CSV (utf-8-sig), Parquet, JSON (a list or {"records": [...]}) or JSON lines.

    Returns a DataFrame for tabular files and a list of dicts for JSON; the SDK accepts both.
    """
    suffix = path.suffix.lower()
    if suffix in {".json", ".jsonl", ".ndjson"}:
        text = path.read_text(encoding="utf-8-sig")
        try:
            if suffix == ".json":
                data = json.loads(text)
            else:
                data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{path.name} is not valid JSON: {exc.msg}",
                errors=[{"loc": [path.name, f"line {exc.lineno}"], "msg": exc.msg}],
            ) from None
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if not isinstance(data, list):
            raise InvalidInput(f'{path.name} must hold a list of records or {{"records": [...]}}')
        return data

    import pandas as pd

    if suffix == ".parquet":
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise InvalidInput(f"cannot read {path.name} as CSV: {exc}") from None


# -- jobs ---------------------------------------------------------------------------------------


def _percent(progress: Any) -> float:
    # The API reports progress as a fraction in [0, 1]; tolerate a percentage too.
    try:
        value = float(progress or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, min(100.0, value * 100.0 if value <= 1.0 else value))


def watch_job(client: "Client", job_id: str, poll: float = 0.5) -> dict[str, Any]:
    """Show the job's progress (stage, percent, elapsed) until it is terminal.

    On a terminal, a progress bar; otherwise (a pipe, a log file, CI) a plain line whenever the
    status or stage changes or the progress moves on by 10 points or more.
    Returns the succeeded job; prints the error and exits 1 for failed or cancelled jobs,
    and exits 130 on Ctrl-C (the job keeps running on the server).
    """
    from shopfloor.client import JobFailed
    from shopfloor.errors import JobCancelled

    show = _ProgressBar() if err.is_terminal else _ProgressLines()
    with show:
        try:
            job = client.wait(job_id, poll=poll, on_progress=show.update)
        except (JobFailed, JobCancelled) as exc:
            job = dict(exc.extra.get("job") or {})
        except KeyboardInterrupt:
            show.stop()
            err.print(
                f"[yellow]stopped watching; job {escape(job_id)} keeps running "
                f"(`shopfloor jobs cancel {escape(job_id)}` stops it)[/]"
            )
            raise typer.Exit(130) from None

    status = job.get("status")
    if status != "succeeded":
        reason = job.get("error") or job.get("message") or "no reason given"
        err.print(f"[bold red]Job {escape(job_id)} {escape(str(status))}:[/] [red]{escape(str(reason))}[/]")
        raise typer.Exit(1)
    err.print(f"[green]Job {escape(job_id)} succeeded[/]")
    return job


def _state(job: dict[str, Any]) -> tuple[str, str, float]:
    status = str(job.get("status") or "")
    done = 100.0 if status == "succeeded" else _percent(job.get("progress"))
    return status, str(job.get("stage") or status), done


class _ProgressBar:
    """Rich's live progress bar on stderr, for a terminal."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        self.bar = Progress(*columns, console=err)
        self.task = self.bar.add_task("queued", total=100.0)

    def __enter__(self) -> "_ProgressBar":
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def stop(self) -> None:
        self.bar.stop()

    def update(self, job: dict[str, Any]) -> None:
        _, stage, done = _state(job)
        self.bar.update(self.task, completed=done, description=escape(stage))


class _ProgressLines:
    """One plain line per change worth reading, for output that is not a terminal."""

    STEP = 10.0

    def __init__(self) -> None:
        import time

        self.clock = time.monotonic
        self.started = self.clock()
        self.last: tuple[str, str, float] | None = None

    def __enter__(self) -> "_ProgressLines":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def stop(self) -> None:
        return None

    def update(self, job: dict[str, Any]) -> None:
        status, stage, done = _state(job)
        last = self.last
        if last is not None and (status, stage) == last[:2] and done - last[2] < self.STEP:
            return
        self.last = (status, stage, done)
        message = job.get("message")
        tail = f" - {message}" if message and message != stage else ""
        elapsed = self.clock() - self.started
        err.print(
            f"{escape(stage)} {done:.0f}% ({elapsed:.0f}s){escape(tail)}", highlight=False, soft_wrap=True
        )

"""Datasets: the list, an upload form (drag and drop with progress where scripts run), and each
dataset's profile. Uploads go through the API's own upload path (quota, heavy slots, audit)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.api.deps import get_heavy
from shopfloor.api.routes.datasets import receive
from shopfloor.api.routes.views import dataset_view
from shopfloor.console.auth import DatasetsForm, DatasetsViewer, Viewer, platform_of
from shopfloor.console.charts import bars, spread, svg_uri
from shopfloor.console.paging import Page
from shopfloor.console.render import page
from shopfloor.errors import InvalidInput, ShopfloorError
from shopfloor.services import datasets as service

router = APIRouter()

#: The upload form's fields besides the file, with their labels and help (the API's form fields).
UPLOAD_FIELDS = (
    ("name", "Name", "Shown in lists; the file name when left empty."),
    ("asset_column", "Asset column", "Sensor data: the column naming the machine or unit."),
    ("time_column", "Time column", "Sensor data: cycle numbers or timestamps."),
    ("settings_columns", "Settings columns", "Sensor data: operating-condition columns, comma-separated."),
    ("columns", "Column names", "Text files without a header line: the names, comma-separated."),
    ("series_column", "Series column", "Wide demand tables: the series id column."),
    ("period_prefix", "Period prefix", "Wide demand tables: the period columns' prefix, e.g. W."),
    ("sampling_rate", "Sampling rate (Hz)", "Recordings: samples per second when the files do not say."),
    ("channels", "Channels", "Recordings: channels to keep, by name or its ending (FE_time)."),
    ("rpm", "Shaft speed (rpm)", "Recordings: when the files and labels.csv do not say."),
)
FORMATS = ("auto", "csv", "parquet", "whitespace", "images", "signals")
#: A profile list longer than this is shown cut; a longer list of numbers is a chart's data, not shown.
LONGEST_FACT = 12


def _number(text: str, field: str) -> float | None:
    """A form field's number; empty: not given."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        where = [{"loc": ["form", field], "msg": f"not a number: {text[:40]!r}"}]
        raise InvalidInput(f"{field.replace('_', ' ')} must be a number", errors=where) from None


def _list(
    request: Request,
    viewer: Viewer,
    *,
    status: int = 200,
    error: ShopfloorError | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    items = platform_of(request).store.list_datasets(viewer.tenant)
    shown = Page.of(request, items)
    return page(
        request,
        "datasets.html",
        viewer,
        status=status,
        title="Datasets",
        page=shown,
        datasets=[dataset_view(d) for d in shown.items],
        fields=UPLOAD_FIELDS,
        formats=FORMATS,
        error=error,
        values=values or {},
    )


@router.get("/datasets", response_class=HTMLResponse)
def datasets(request: Request, viewer: DatasetsViewer) -> HTMLResponse:
    return _list(request, viewer)


@router.post("/datasets", response_class=HTMLResponse)
async def upload(
    request: Request,
    viewer: DatasetsForm,
    file: Annotated[UploadFile, File()],
    name: Annotated[str, Form(max_length=200)] = "",
    format: Annotated[str, Form(max_length=20)] = "auto",
    layout: Annotated[str, Form(max_length=10)] = "long",
    asset_column: Annotated[str, Form(max_length=200)] = "",
    time_column: Annotated[str, Form(max_length=200)] = "",
    settings_columns: Annotated[str, Form(max_length=2000)] = "",
    columns: Annotated[str, Form(max_length=20000)] = "",
    series_column: Annotated[str, Form(max_length=200)] = "",
    period_prefix: Annotated[str, Form(max_length=50)] = "",
    sampling_rate: Annotated[str, Form(max_length=30)] = "",
    channels: Annotated[str, Form(max_length=2000)] = "",
    rpm: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    values = {
        "name": name,
        "format": format,
        "layout": layout,
        "asset_column": asset_column,
        "time_column": time_column,
        "settings_columns": settings_columns,
        "columns": columns,
        "series_column": series_column,
        "period_prefix": period_prefix,
        "sampling_rate": sampling_rate,
        "channels": channels,
        "rpm": rpm,
    }
    try:
        options = service.upload_options(
            format=format,
            columns=columns or None,
            asset_column=asset_column,
            time_column=time_column,
            settings_columns=settings_columns or None,
            layout=layout,
            series_column=series_column,
            period_prefix=period_prefix or None,
            sampling_rate=_number(sampling_rate, "sampling_rate"),
            channels=channels or None,
            rpm=_number(rpm, "rpm"),
        )
        dataset = await receive(
            platform_of(request), viewer.principal, await get_heavy(request), file, name or None, options
        )
    except ShopfloorError as exc:
        # The rejection with its place (row, column, field), beside the form as it was filled in.
        return _list(request, viewer, status=exc.status, error=exc, values=values)
    return RedirectResponse(f"/datasets/{dataset.id}", status_code=303)


def column_chart(column: dict[str, Any]) -> str | None:
    """A small SVG of one column's distribution from its profile: the most frequent values, or the
    spread (minimum, mean ± one standard deviation, median, maximum)."""
    stats = column.get("stats") or {}
    if stats.get("top"):
        return bars([(str(t["value"]), float(t["count"])) for t in stats["top"]], label=column["name"])
    if column.get("type") == "numeric" and stats.get("min") is not None:
        return spread(stats, label=column["name"])
    return None


def profile_parts(column: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A column's profile as facts to print and the charts the profile drew itself: SVG text under a
    stats key ending in ``_svg``, shown as images. Whatever the column holds, the page reads only
    what its profile says; a chart's data (long lists of numbers) stays out of the facts."""
    facts: dict[str, Any] = {}
    figures = []
    for key, value in (column.get("stats") or {}).items():
        if key.endswith("_svg"):
            if isinstance(value, str) and value.lstrip().startswith("<svg"):
                what = key[: -len("_svg")].replace("_", " ")
                figures.append({"src": svg_uri(value), "alt": f"{what} of {column['name']}"})
        elif key != "top" and (kept := _fact(value)) is not None:
            facts[key] = kept
    return facts, figures


def _fact(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: v for k, v in ((k, _fact(v)) for k, v in value.items()) if v is not None}
        return kept or None
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        if len(value) <= LONGEST_FACT:
            return list(value)
        if all(isinstance(v, int | float) for v in value):
            return None
        return [*value[:LONGEST_FACT], f"... {len(value):,} in all"]
    return value


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset(request: Request, dataset_id: str, viewer: DatasetsViewer) -> HTMLResponse:
    view = dataset_view(platform_of(request).store.get_dataset(viewer.tenant, dataset_id))
    charts = {c["name"]: column_chart(c) for c in view["columns"]}
    parts = {c["name"]: profile_parts(c) for c in view["columns"]}
    thumbs = (
        service.thumbnails(platform_of(request), viewer.tenant, dataset_id)
        if view["format"] == "images"
        else []
    )
    return page(
        request,
        "dataset.html",
        viewer,
        title=view["name"],
        d=view,
        charts=charts,
        thumbs=thumbs,
        facts={name: facts for name, (facts, _) in parts.items()},
        figures={name: figures for name, (_, figures) in parts.items()},
    )

"""Datasets: upload, list, read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from shopfloor.api.deps import DatasetsReader, DatasetsWriter, HeavyDep, PlatformDep
from shopfloor.api.heavy import HeavyWork
from shopfloor.api.routes.views import dataset_view
from shopfloor.context import Platform
from shopfloor.data.stored import UploadOptions
from shopfloor.registry.entities import Dataset
from shopfloor.schemas.datasets import DatasetList, DatasetPublic
from shopfloor.security.keys import Principal
from shopfloor.security.limits import limiter
from shopfloor.services import audit
from shopfloor.services import datasets as service

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


@router.post(
    "",
    status_code=201,
    response_model=DatasetPublic,
    summary="Upload a table (CSV, Parquet or whitespace-separated text), a sensor dataset, "
    "a zip of images, or vibration recordings",
    description="A zip of PNG, JPEG, BMP or TIFF images becomes an image dataset (format `images`), "
    "one row per image: labels from class folders (`crazing/x.jpg`) or a `labels.csv` "
    "(`filename,label`), none for images all in one folder; Pascal VOC `.xml` files add boxes to "
    "the image with the same name. Vibration recordings (format `signals`: `.wav`, `.npy`, `.npz`, "
    "`.mat`, CSV or Parquet, one file or a zip with an optional `labels.csv` of `file,label,group,rpm`) "
    "become one row per recording. Unsafe or damaged archives are refused naming the member.",
)
async def upload_dataset(
    platform: PlatformDep,
    principal: DatasetsWriter,
    heavy: HeavyDep,
    file: Annotated[
        UploadFile,
        File(description="CSV (UTF-8), Parquet, whitespace-separated text, or a zip of images"),
    ],
    name: Annotated[str | None, Form()] = None,
    format: Annotated[
        str,
        Form(
            description="auto (Parquet, recordings or zip of images by their magic bytes, else CSV), "
            "csv, parquet, whitespace, images or signals"
        ),
    ] = "auto",
    columns: Annotated[
        str | None,
        Form(description="Comma-separated column names for a text file without a header line"),
    ] = None,
    asset_column: Annotated[
        str | None, Form(description="Sensor dataset: the column naming the asset (with time_column)")
    ] = None,
    time_column: Annotated[
        str | None, Form(description="Sensor dataset: the time column, cycle numbers or timestamps")
    ] = None,
    settings_columns: Annotated[
        str | None, Form(description="Sensor dataset: comma-separated operating-condition settings columns")
    ] = None,
    layout: Annotated[
        str,
        Form(
            description="long (one row per observation) or wide (one row per series, one column per "
            "period, e.g. W0..W51): a wide table is stored in long form and the conversion reported"
        ),
    ] = "long",
    series_column: Annotated[
        str | None, Form(description="Wide tables: the series id column (default: the first non-period one)")
    ] = None,
    period_prefix: Annotated[
        str | None,
        Form(description="Wide tables: the period columns' name prefix (default: the first run found)"),
    ] = None,
    sampling_rate: Annotated[
        float | None, Form(description="Recordings: samples per second when the files do not say")
    ] = None,
    channels: Annotated[
        str | None,
        Form(description="Recordings: comma-separated channels to keep, by name or name ending (FE_time)"),
    ] = None,
    rpm: Annotated[
        float | None, Form(description="Recordings: shaft speed (rpm) when the files do not say")
    ] = None,
) -> Any:
    options = service.upload_options(
        format=format,
        columns=columns,
        asset_column=asset_column,
        time_column=time_column,
        settings_columns=settings_columns,
        layout=layout,
        series_column=series_column,
        period_prefix=period_prefix,
        sampling_rate=sampling_rate,
        channels=channels,
        rpm=rpm,
    )
    return dataset_view(await receive(platform, principal, heavy, file, name, options))


async def receive(
    platform: Platform,
    principal: Principal,
    heavy: HeavyWork,
    file: UploadFile,
    name: str | None,
    options: UploadOptions,
) -> Dataset:
    """Store one upload as a dataset, within the tenant's storage quota and heavy-work slots, and
    audit it: the API's upload and the console's."""
    limiter(platform).check_storage(principal.tenant, file.size or 0)
    async with heavy.slot(principal.tenant, "dataset uploads"):  # parsed, masked and profiled now
        dataset = await service.upload(
            platform, principal.tenant, file, name=name, filename=file.filename, options=options
        )
    audit.record(platform, principal, "dataset.upload", dataset.id, size_bytes=dataset.size_bytes)
    return dataset


@router.get("", response_model=DatasetList, summary="List datasets")
def list_datasets(platform: PlatformDep, principal: DatasetsReader) -> Any:
    return {"items": [dataset_view(d) for d in platform.store.list_datasets(principal.tenant)]}


@router.get("/{dataset_id}", response_model=DatasetPublic, summary="Read one dataset and its column profile")
def get_dataset(dataset_id: str, platform: PlatformDep, principal: DatasetsReader) -> Any:
    return dataset_view(platform.store.get_dataset(principal.tenant, dataset_id))

"""Dataset upload and reading: streamed to disk, parsed, profiled, stored as an immutable version.

An upload that names an asset and a time column is a sensor dataset (long form: one row per
asset and time): it must pass the sensor history checks, and its profile carries the series
report (sampling, gaps, dead sensors, operating modes; see :mod:`shopfloor.data.series_report`).

A zip (by its magic bytes, or format ``images``) is a dataset of part images: checked member by
member as a hostile archive, stored as a table of one row per image (see
:mod:`shopfloor.data.image_zip`), sealed and signed like any table.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data.image_zip import read_image_zip
from shopfloor.data.parse import FORMATS as TABLE_FORMATS
from shopfloor.data.parse import check_names, read_table
from shopfloor.data.profile import profile_frame
from shopfloor.data.series import SeriesSpec, check_history, file_rows
from shopfloor.data.series_report import annotate, check_settings, series_report
from shopfloor.data.upload import receive_upload
from shopfloor.data.wide import to_long
from shopfloor.errors import ArtifactCorrupted, InvalidDataset, InvalidInput
from shopfloor.registry.entities import Dataset
from shopfloor.security import crypto, integrity
from shopfloor.services.ids import new_id
from shopfloor.services.masking import MAPPING_FILE, mask_frame
from shopfloor.storage.base import sha256_bytes
from shopfloor.storage.scratch import scratch_file

log = logging.getLogger(__name__)

PARQUET = "data.parquet"
ZIP_MAGIC = b"PK\x03\x04"
#: What the upload ``format`` field accepts: the table formats, and ``images`` for a zip of images.
UPLOAD_FORMATS = (*TABLE_FORMATS, "images")


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == ZIP_MAGIC


def check_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidInput(
            f"invalid {field} {name!r}: 1 to 200 printable characters",
            errors=[{"loc": ["body", field], "msg": "invalid name"}],
        )
    return name


@dataclass(frozen=True)
class UploadOptions:
    """How to read an upload (format, column names for a file without header) and its sensor layout."""

    format: str = "auto"
    columns: tuple[str, ...] | None = None
    asset_column: str | None = None
    time_column: str | None = None
    settings_columns: tuple[str, ...] = ()
    layout: str = "long"
    series_column: str | None = None
    period_prefix: str | None = None


def _names(raw: str | None) -> tuple[str, ...] | None:
    """A comma-separated form value as stripped names; None when absent or blank."""
    if raw is None or not raw.strip():
        return None
    return tuple(part.strip() for part in raw.split(","))


def upload_options(
    *,
    format: str | None = None,
    columns: str | None = None,
    asset_column: str | None = None,
    time_column: str | None = None,
    settings_columns: str | None = None,
    layout: str | None = None,
    series_column: str | None = None,
    period_prefix: str | None = None,
) -> UploadOptions:
    """The upload's form fields, checked before any byte of the file is read.

    Raises :class:`InvalidInput` naming the field: an unknown format, blank or duplicate names,
    only one of asset and time column, settings without them, a column given two roles.
    """
    asset = (asset_column or "").strip() or None
    time = (time_column or "").strip() or None
    settings = _names(settings_columns) or ()
    if (asset is None) != (time is None):
        missing = "time_column" if time is None else "asset_column"
        raise _field(missing, "a sensor dataset needs both asset_column and time_column (or neither)")
    if settings and asset is None:
        raise _field("settings_columns", "settings_columns needs asset_column and time_column")
    if asset is not None and asset == time:
        raise _field("time_column", f"asset_column and time_column are both {asset!r}; name two columns")
    for name in settings:
        if not name:
            raise _field("settings_columns", "settings_columns has a blank name")
        if name in (asset, time) or settings.count(name) > 1:
            raise _field(
                "settings_columns", f"{name!r} appears twice among the asset, time and settings columns"
            )
    shape = (layout or "long").strip().lower()
    if shape not in ("long", "wide"):
        raise _field("layout", f"unknown layout {layout!r}; use long (one row per observation) or wide")
    if shape == "long" and ((series_column or "").strip() or period_prefix):
        raise _field("layout", "series_column and period_prefix describe a wide table: add layout=wide")
    if shape == "wide" and asset is not None:
        raise _field("layout", "a wide table of demand series takes no asset_column or time_column")
    names = _names(columns)
    return UploadOptions(
        format=_check_format((format or "auto").strip().lower()),
        columns=tuple(check_names(list(names))) if names is not None else None,
        asset_column=asset,
        time_column=time,
        settings_columns=settings,
        layout=shape,
        series_column=(series_column or "").strip() or None,
        period_prefix=period_prefix if period_prefix else None,
    )


def _check_format(format: str) -> str:
    if format not in UPLOAD_FORMATS:
        raise InvalidInput(
            f"unknown format {format!r}; use one of: {', '.join(UPLOAD_FORMATS)}",
            errors=[{"loc": ["body", "format"], "msg": f"one of {', '.join(UPLOAD_FORMATS)}"}],
        )
    return format


def _field(field: str, detail: str) -> InvalidInput:
    return InvalidInput(detail, errors=[{"loc": ["body", field], "msg": detail}])


def _series_profile(
    frame: pd.DataFrame, asset: str, time: str, settings: list[str]
) -> dict[str, dict[str, Any]]:
    """Check a sensor table (nothing is stored if it fails) and compute its series report."""
    known = set(frame.columns)
    shown = ", ".join(map(repr, list(frame.columns)[:30])) + (", ..." if len(known) > 30 else "")
    for field, names in (
        ("asset_column", [asset]),
        ("time_column", [time]),
        ("settings_columns", settings),
    ):
        unknown = [name for name in names if name not in known]
        if unknown:
            raise InvalidDataset(
                f"{field}: {', '.join(map(repr, unknown))} not among the file's columns ({shown})",
                errors=[{"loc": ["body", field], "msg": f"no column {name!r}"} for name in unknown],
            )
    spec = SeriesSpec(asset, time, tuple(c for c in frame.columns if c not in {asset, time, *settings}))
    if not spec.sensors:
        raise InvalidDataset(
            "a sensor dataset needs at least one sensor column besides the asset, time and settings columns",
            errors=[{"loc": ["file"], "msg": "no sensor column"}],
        )
    check_history(frame, spec, where=file_rows, error=InvalidDataset)
    check_settings(frame, settings, where=file_rows, error=InvalidDataset)
    return series_report(frame, spec, settings)


def store_table(
    platform: Platform,
    tenant: str,
    path: Path,
    *,
    name: str,
    size: int,
    sha256: str,
    options: UploadOptions | None = None,
    max_storage_bytes: int | None = None,
) -> Dataset:
    """Parse, profile, encrypt and register a file already on local disk. All or nothing.

    With ``max_storage_bytes`` the dataset is registered only if the tenant's datasets stay within
    it (:class:`~shopfloor.errors.StorageQuotaExceeded` otherwise, and nothing is kept).

    The table is stored as parquet sealed with the tenant's key, and the registry row is signed
    (see :mod:`shopfloor.security.integrity`). With a sensor layout in ``options`` the table is
    checked as sensor histories and each column's profile gains its ``role`` and ``series``
    figures. Raises :class:`InvalidDataset` if it cannot be stored.
    """
    options = options or UploadOptions()
    frame = read_table(
        path, name, format=options.format, columns=list(options.columns) if options.columns else None
    )
    fmt = "whitespace" if options.format == "whitespace" else "parquet" if _is_parquet(path) else "csv"
    conversion = None
    if options.layout == "wide":
        frame, conversion = to_long(frame, options.series_column, options.period_prefix)
    masked = mask_frame(platform, tenant, frame)  # before the profile: its top values must not leak
    frame = masked.frame
    if conversion is not None:
        columns = _with_roles(profile_frame(frame), conversion)
    elif options.asset_column and options.time_column:
        report = _series_profile(
            frame, options.asset_column, options.time_column, list(options.settings_columns)
        )
        columns = annotate(profile_frame(frame), report)
    else:
        columns = profile_frame(frame)
    columns = masked.annotate(columns)
    return _register(
        platform,
        tenant,
        frame,
        name=name,
        size=size,
        sha256=sha256,
        fmt=fmt,
        columns=columns,
        mapping=masked.mapping,
        max_storage_bytes=max_storage_bytes,
    )


def _with_roles(columns: list[dict[str, Any]], conversion: dict[str, Any]) -> list[dict[str, Any]]:
    """A converted wide table's profile: the series, time and value roles, and the conversion."""
    series, time, value = conversion["columns"]
    roles = {series: "series", time: "time", value: "value"}
    out = []
    for column in columns:
        column = {**column, "role": roles.get(column["name"])}
        if column["name"] == value:
            column["conversion"] = conversion
        out.append(column)
    return out


def store_images(
    platform: Platform, tenant: str, path: Path, *, name: str, size: int, sha256: str
) -> Dataset:
    """Check, profile, encrypt and register a zip of images already on local disk. All or nothing.

    The images become a table, one row per image (see :mod:`shopfloor.data.image_zip`), stored
    and signed like any table with format ``images``. The ``image`` column's profile has type
    ``image`` and the archive's summary (counts per class, format, channels; sizes; boxes) as its
    stats; the other columns are profiled as usual. Nothing is masked: the table holds no free
    text. Raises :class:`InvalidDataset` naming the offending member if any check fails.
    """
    frame, summary = read_image_zip(path)
    profile = {c["name"]: c for c in profile_frame(frame.drop(columns=["image"]))}
    profile["image"] = {"name": "image", "type": "image", "missing": 0, "stats": summary}
    columns = [profile[str(column)] for column in frame.columns]
    return _register(
        platform, tenant, frame, name=name, size=size, sha256=sha256, fmt="images", columns=columns
    )


def store_upload(
    platform: Platform,
    tenant: str,
    path: Path,
    *,
    name: str,
    size: int,
    sha256: str,
    options: UploadOptions | None = None,
) -> Dataset:
    """Store an upload as images (format ``images``, or a zip under ``auto``) or as a table."""
    options = options or UploadOptions()
    if options.format == "images" or (options.format == "auto" and _is_zip(path)):
        for field, value in (
            ("columns", options.columns),
            ("asset_column", options.asset_column),
            ("layout", options.layout != "long"),
        ):
            if value:
                raise _field(field, f"{field} is for tables; a zip of images takes no {field}")
        return store_images(platform, tenant, path, name=name, size=size, sha256=sha256)
    return store_table(platform, tenant, path, name=name, size=size, sha256=sha256, options=options)


def _register(
    platform: Platform,
    tenant: str,
    frame: pd.DataFrame,
    *,
    name: str,
    size: int,
    sha256: str,
    fmt: str,
    columns: list[dict[str, Any]],
    mapping: dict[str, str] | None = None,
    max_storage_bytes: int | None = None,
) -> Dataset:
    """Seal ``frame`` as parquet under a new dataset id and register the signed row; undone on failure."""
    dataset_id = new_id("ds")
    prefix = f"{tenant}/datasets/{dataset_id}"
    buffer = io.BytesIO()  # in memory: the plaintext parquet never touches the disk
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ArithmeticError) as exc:  # pyarrow's errors derive from these
        raise InvalidDataset(f"the table could not be stored: {exc}") from exc
    try:
        stored_sha256 = platform.sealed.put(tenant, f"{prefix}/{PARQUET}", buffer.getvalue())
        if mapping:  # reversible pseudonyms only: token -> original, sealed like the table
            platform.sealed.put(tenant, f"{prefix}/{MAPPING_FILE}", json.dumps(mapping).encode())
        claims = integrity.dataset_claims(
            tenant=tenant,
            dataset_id=dataset_id,
            name=name,
            artifact=prefix,
            upload_sha256=sha256,
            stored_sha256=stored_sha256,
            rows=len(frame),
        )
        return platform.store.add_dataset(
            id=dataset_id,
            tenant=tenant,
            name=name,
            rows=len(frame),
            sha256=sha256,
            size_bytes=size,
            format=fmt,
            columns=columns,
            artifact=prefix,
            signature=crypto.sign(platform.signing_key, claims),
            max_storage_bytes=max_storage_bytes,
        )
    except BaseException:
        platform.sealed.delete_prefix(prefix)
        raise


async def upload(
    platform: Platform,
    tenant: str,
    source: Any,
    *,
    name: str | None,
    filename: str | None,
    options: UploadOptions | None = None,
) -> Dataset:
    """Stream an upload into a scratch file (bounded by the size limit; in memory only, see
    :mod:`shopfloor.storage.scratch`), then store it, encrypted, as a dataset version."""
    from starlette.concurrency import run_in_threadpool

    display = check_name(name or Path(filename or "dataset").stem or "dataset")
    with scratch_file(platform.scratch, new_id("upload")) as tmp:
        info = await receive_upload(source, tmp, platform.settings.max_upload_bytes)
        return await run_in_threadpool(
            store_upload,
            platform,
            tenant,
            tmp,
            name=display,
            size=info.size,
            sha256=info.sha256,
            options=options,
        )


def load_frame(platform: Platform, dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
    """The dataset's table, as stored at upload: decrypted in memory, its signature checked.

    Raises :class:`~shopfloor.errors.ArtifactCorrupted` (and audits ``artifact.rejected``) if the
    file does not decrypt, or it or the registry row no longer match the signature.
    """
    key = f"{dataset.artifact}/{PARQUET}"
    target = f"dataset:{dataset.id}"
    try:
        data = platform.sealed.get(dataset.tenant, key)
    except ArtifactCorrupted as exc:
        raise integrity.reject(
            platform,
            tenant=dataset.tenant,
            target=target,
            detail=f"dataset {dataset.name!r} ({dataset.id}), file {PARQUET}: {exc.detail}",
            extra={"file": PARQUET},
        ) from None
    why = integrity.signature_problem(
        platform, integrity.dataset_claims_of(dataset, sha256_bytes(data)), dataset.signature
    )
    if why is not None:
        raise integrity.reject(
            platform,
            tenant=dataset.tenant,
            target=target,
            detail=f"dataset {dataset.name!r} ({dataset.id}) is refused: {why}",
            extra={"file": PARQUET},
        )
    return pd.read_parquet(io.BytesIO(data), columns=columns)


def frame_for_learning(
    platform: Platform, dataset: Dataset, exclude: list[str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The dataset without the excluded columns, and the profile's type of each remaining column.

    A text column the profile calls numeric (a few stray strings among numbers) is converted:
    the stray values become missing.
    """
    from shopfloor.data.profile import column_types

    frame = load_frame(platform, dataset).drop(columns=exclude)
    types = {k: v for k, v in column_types(dataset.columns).items() if k not in exclude}
    for name, kind in types.items():
        if kind == "numeric" and frame[name].dtype == object:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame, types

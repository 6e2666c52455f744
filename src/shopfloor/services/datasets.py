"""Dataset upload: streamed to disk, parsed, profiled, stored as an immutable version (the storing
and reading back are in :mod:`shopfloor.data.stored`).

An upload that names an asset and a time column is a sensor dataset (long form: one row per
asset and time): it must pass the sensor history checks, and its profile carries the series
report (sampling, gaps, dead sensors, operating modes; see :mod:`shopfloor.data.series_report`).

Vibration recordings (format ``signals``, or under ``auto`` a WAV, NPY or MAT file or a zip holding
recordings) become a table of one row per recording (see :mod:`shopfloor.data.waveforms`), profiled
by :mod:`shopfloor.data.waveform_profile`.

A zip (by its magic bytes, or format ``images``) is a dataset of part images: checked member by
member as a hostile archive, stored as a table of one row per image (see
:mod:`shopfloor.data.image_zip`), sealed and signed like any table.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from shopfloor.context import Platform
from shopfloor.data.image_zip import read_image_zip
from shopfloor.data.parse import FORMATS as TABLE_FORMATS
from shopfloor.data.parse import check_names
from shopfloor.data.profile import profile_frame
from shopfloor.data.stored import UploadOptions, register_table, store_table
from shopfloor.data.upload import receive_upload
from shopfloor.data.waveforms import SignalOptions, looks_like_recordings
from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import Dataset
from shopfloor.registry.ids import new_id
from shopfloor.storage.scratch import scratch_file

log = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
#: What the upload ``format`` field accepts: the table formats, ``images`` for a zip of images and
#: ``signals`` for vibration recordings.
UPLOAD_FORMATS = (*TABLE_FORMATS, "images", "signals")


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
    sampling_rate: float | None = None,
    channels: str | None = None,
    rpm: float | None = None,
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
    for field, value in (("sampling_rate", sampling_rate), ("rpm", rpm)):
        if value is not None and not value > 0:
            raise _field(field, f"{field} must be a positive number")
    chosen = _names(channels)
    if chosen is not None and (any(not c for c in chosen) or len(set(chosen)) != len(chosen)):
        raise _field("channels", "channels has a blank or repeated name")
    return UploadOptions(
        format=_check_format((format or "auto").strip().lower()),
        columns=tuple(check_names(list(names))) if names is not None else None,
        asset_column=asset,
        time_column=time,
        settings_columns=settings,
        layout=shape,
        series_column=(series_column or "").strip() or None,
        period_prefix=period_prefix if period_prefix else None,
        sampling_rate=sampling_rate,
        channels=chosen,
        rpm=rpm,
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
    return register_table(
        platform, tenant, frame, name=name, size=size, sha256=sha256, fmt="images", columns=columns
    )


def store_signals(
    platform: Platform,
    tenant: str,
    path: Path,
    *,
    name: str,
    size: int,
    sha256: str,
    options: UploadOptions,
    filename: str | None = None,
) -> Dataset:
    """Read, check, profile and register vibration recordings (one file, or a zip of them) as a
    table of one row per recording, format ``signals``. All or nothing: a bad file changes nothing."""
    from shopfloor.data.waveform_profile import recording_profile
    from shopfloor.data.waveforms import read_recordings

    signal = SignalOptions(options.sampling_rate, options.channels, options.rpm)
    frame = read_recordings(path, signal, filename)
    return register_table(
        platform,
        tenant,
        frame,
        name=name,
        size=size,
        sha256=sha256,
        fmt="signals",
        columns=recording_profile(frame),
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
    filename: str | None = None,
) -> Dataset:
    """Store an upload as recordings (format ``signals``, or recognised under ``auto``), images
    (format ``images``, or a zip under ``auto``) or as a table."""
    options = options or UploadOptions()
    signal_fields = (
        ("sampling_rate", options.sampling_rate),
        ("channels", options.channels),
        ("rpm", options.rpm),
    )
    value: object  # each option below is only tested for being set
    if options.format == "signals" or (options.format == "auto" and looks_like_recordings(path)):
        for field, value in (("columns", options.columns), ("asset_column", options.asset_column)):
            if value:
                raise _field(field, f"{field} is for tables; recordings take no {field}")
        return store_signals(
            platform, tenant, path, name=name, size=size, sha256=sha256, options=options, filename=filename
        )
    for field, value in signal_fields:
        if value is not None:
            raise _field(field, f"{field} is for recordings: add format=signals")
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
            filename=filename,
        )


def thumbnails(platform: Platform, tenant: str, dataset_id: str, per_class: int = 4) -> list[dict[str, Any]]:
    """A few images of each class of an image dataset as small base64 PNGs: ``[{"label", "png"}]``
    (no labels: the first images). Empty for a table."""
    import base64

    from shopfloor.data.images import thumbnail_png
    from shopfloor.data.stored import load_frame

    dataset = platform.store.get_dataset(tenant, dataset_id)
    if dataset.format != "images":
        return []
    frame = load_frame(platform, dataset, columns=["image", "label"])
    labels = frame["label"].fillna("").astype(str)
    picked = frame.groupby(labels, sort=True).head(per_class).head(12 * per_class)
    return [
        {"label": str(label), "png": base64.b64encode(thumbnail_png(bytes(data))).decode()}
        for data, label in zip(picked["image"], labels[picked.index], strict=True)
    ]

"""A dataset's table as the platform stores it, and read back.

Storing masks the text (see :mod:`shopfloor.privacy.policy`), profiles the table, seals it as
parquet with the tenant's key and registers the signed row, all or nothing. Reading decrypts it
and checks the signature (see :mod:`shopfloor.security.integrity`). The upload service and the
jobs (training reads a dataset, a synthetic copy stores one) share these steps.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from shopfloor.data.parse import read_table
from shopfloor.data.profile import profile_frame
from shopfloor.data.series import SeriesSpec, check_history, file_rows
from shopfloor.data.series_report import annotate, check_settings, series_report
from shopfloor.data.wide import to_long
from shopfloor.errors import ArtifactCorrupted, InvalidDataset
from shopfloor.privacy.policy import MAPPING_FILE, mask_frame
from shopfloor.registry.entities import Dataset
from shopfloor.registry.ids import new_id
from shopfloor.registry.store import AuditStore, DatasetStore, MaskingStore
from shopfloor.security import crypto, integrity
from shopfloor.storage.base import sha256_bytes
from shopfloor.storage.scratch import scratch_file
from shopfloor.storage.sealed import SealedArtifacts

PARQUET = "data.parquet"

class DataStore(DatasetStore, AuditStore, MaskingStore, Protocol):
    """The registry as datasets use it: their rows, the audit of a refused file, the masking policy."""


class DataPlatform(Protocol):
    """What storing and reading a dataset needs of the process's :class:`~shopfloor.context.Platform`
    (which sits above this module): the registry, the sealed artifacts, the signing key."""

    @property
    def store(self) -> DataStore: ...

    @property
    def sealed(self) -> SealedArtifacts: ...

    @property
    def signing_key(self) -> bytes: ...


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


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
    # recordings (format ``signals``, see :mod:`shopfloor.data.waveforms`)
    sampling_rate: float | None = None
    channels: tuple[str, ...] | None = None
    rpm: float | None = None


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
    platform: DataPlatform,
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
    return register_table(
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


def store_frame(
    platform: DataPlatform,
    tenant: str,
    frame: pd.DataFrame,
    *,
    name: str,
    scratch: Path,
    max_storage_bytes: int | None = None,
) -> Dataset:
    """``frame`` stored as a new version of dataset ``name``, as an upload of it in Parquet would be
    (:func:`store_table`); the Parquet file lives in memory only (:func:`scratch_file`)."""
    with scratch_file(scratch, f"{new_id('frame')}.parquet") as path:
        frame.to_parquet(path, index=False)
        data = path.read_bytes()
        return store_table(
            platform,
            tenant,
            path,
            name=name,
            size=len(data),
            sha256=sha256_bytes(data),
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


def register_table(
    platform: DataPlatform,
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
    except BaseException as exc:
        platform.sealed.undo(prefix, exc)
        raise


def load_frame(platform: DataPlatform, dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
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
    platform: DataPlatform, dataset: Dataset, exclude: list[str]
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

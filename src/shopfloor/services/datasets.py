"""Dataset upload and reading: streamed to disk, parsed, profiled, stored as an immutable version."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from shopfloor.data.parse import read_table
from shopfloor.data.profile import profile_frame
from shopfloor.data.upload import receive_upload
from shopfloor.errors import ArtifactCorrupted, InvalidDataset, InvalidInput
from shopfloor.platform import Platform
from shopfloor.registry.entities import Dataset
from shopfloor.security import crypto, integrity
from shopfloor.services.ids import new_id
from shopfloor.storage.base import sha256_bytes

log = logging.getLogger(__name__)

PARQUET = "data.parquet"


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def check_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidInput(
            f"invalid {field} {name!r}: 1 to 200 printable characters",
            errors=[{"loc": ["body", field], "msg": "invalid name"}],
        )
    return name


def store_table(platform: Platform, tenant: str, path: Path, *, name: str, size: int, sha256: str) -> Dataset:
    """Parse, profile, encrypt and register a file already on local disk. All or nothing.

    The table is stored as parquet sealed with the tenant's key, and the registry row is signed
    (see :mod:`shopfloor.security.integrity`). Raises :class:`InvalidDataset` if it cannot be stored.
    """
    fmt = "parquet" if _is_parquet(path) else "csv"
    frame = read_table(path, name)
    columns = profile_frame(frame)
    dataset_id = new_id("ds")
    prefix = f"{tenant}/datasets/{dataset_id}"
    buffer = io.BytesIO()  # in memory: the plaintext parquet never touches the disk
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ArithmeticError) as exc:  # pyarrow's errors derive from these
        raise InvalidDataset(f"the table could not be stored: {exc}") from exc
    stored_sha256 = platform.sealed.put(tenant, f"{prefix}/{PARQUET}", buffer.getvalue())
    claims = integrity.dataset_claims(
        tenant=tenant,
        dataset_id=dataset_id,
        name=name,
        artifact=prefix,
        upload_sha256=sha256,
        stored_sha256=stored_sha256,
        rows=len(frame),
    )
    try:
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
        )
    except BaseException:
        platform.sealed.delete_prefix(prefix)
        raise


async def upload(
    platform: Platform, tenant: str, source: Any, *, name: str | None, filename: str | None
) -> Dataset:
    """Stream an upload to disk (bounded by the size limit), then store it as a dataset version."""
    from starlette.concurrency import run_in_threadpool

    display = check_name(name or Path(filename or "dataset").stem or "dataset")
    tmp = platform.scratch / new_id("upload")
    try:
        info = await receive_upload(source, tmp, platform.settings.max_upload_bytes)
        return await run_in_threadpool(
            store_table, platform, tenant, tmp, name=display, size=info.size, sha256=info.sha256
        )
    finally:
        tmp.unlink(missing_ok=True)


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

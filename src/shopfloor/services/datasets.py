"""Dataset upload and reading: streamed to disk, parsed, profiled, stored as an immutable version."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from shopfloor.data.parse import read_table
from shopfloor.data.profile import profile_frame
from shopfloor.data.upload import receive_upload
from shopfloor.errors import InvalidDataset, InvalidInput
from shopfloor.platform import Platform
from shopfloor.registry.entities import Dataset
from shopfloor.services.ids import new_id

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
    """Parse, profile and register a file already on local disk. All or nothing."""
    fmt = "parquet" if _is_parquet(path) else "csv"
    frame = read_table(path, name)
    columns = profile_frame(frame)
    dataset_id = new_id("ds")
    prefix = f"{tenant}/datasets/{dataset_id}"
    parquet = platform.scratch / f"{dataset_id}.parquet"
    try:
        try:
            frame.to_parquet(parquet, index=False)
        except (ValueError, TypeError, ArithmeticError) as exc:  # pyarrow's errors derive from these
            raise InvalidDataset(f"the table could not be stored: {exc}") from exc
        platform.artifacts.put_file(f"{prefix}/{PARQUET}", parquet)
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
            )
        except BaseException:
            platform.artifacts.delete_prefix(prefix)
            raise
    finally:
        parquet.unlink(missing_ok=True)


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
    """The dataset's table, as stored at upload."""
    path = platform.artifacts.local_path(f"{dataset.artifact}/{PARQUET}")
    return pd.read_parquet(path, columns=columns)

"""The data of an Azure multivariate request: where ``dataSource`` points, read as variables.

``dataSource`` is one of:

* ``shopfloor://datasets/{id}``: a dataset of the caller's tenant, a table with a time column (the
  one named at upload, else ``timestamp``) and numeric variable columns;
* an ``s3://bucket/key`` or ``http(s)://endpoint/bucket/key`` URL of a bucket one of the tenant's
  S3 sources serves (read with that source's credentials, never the server's): a CSV file
  (OneTable), a zip of CSV files (one OneTable file, or MultiTable files), or a folder (a key
  ending in ``/``) of MultiTable CSV files.

Everything read is bounded by the upload limit (``SHOPFLOOR_MAX_UPLOAD_MB``).
"""

from __future__ import annotations

import pandas as pd

from shopfloor.context import Platform
from shopfloor.data import variables as shapes
from shopfloor.data.stored import load_frame
from shopfloor.errors import InvalidDataset, InvalidInput, NotFound

DATASET_SCHEME = "shopfloor://datasets/"
#: The Azure error code of a data source that cannot be read.
SOURCE_ERROR = "DataSourceError"


def source_error(msg: str, field: str = "dataSource") -> InvalidInput:
    """An input error about the data source, with Azure's code for it."""
    return InvalidInput(msg, errors=[{"loc": ["body", field], "msg": msg, "type": SOURCE_ERROR}])


def read_variables(platform: Platform, tenant: str, source: str, schema: str) -> dict[str, pd.Series]:
    """The variables at ``source`` (see the module docstring), read as ``schema`` (OneTable or
    MultiTable). Raises :class:`InvalidInput` (Azure code DataSourceError) naming what could not be
    read; an unknown dataset or a bucket no source of the tenant serves is an input error too."""
    source = source.strip()
    try:
        if source.startswith(DATASET_SCHEME):
            return _dataset_variables(platform, tenant, source)
        return _bucket_variables(platform, tenant, source, schema)
    except (InvalidInput, NotFound) as exc:  # no source serves the bucket, no such object ...
        raise source_error(f"dataSource {source!r}: {exc.detail}") from None


def _dataset_variables(platform: Platform, tenant: str, source: str) -> dict[str, pd.Series]:
    dataset_id = source.removeprefix(DATASET_SCHEME).strip("/")
    if not dataset_id or "/" in dataset_id:
        raise InvalidDataset(f"name one dataset: {DATASET_SCHEME}<dataset id>")
    dataset = platform.store.get_dataset(tenant, dataset_id)
    roles = {c.get("role"): c["name"] for c in dataset.columns if c.get("role")}
    names = [c["name"] for c in dataset.columns]
    time_column = roles.get("time") or (shapes.TIMESTAMP if shapes.TIMESTAMP in names else None)
    if time_column is None:
        raise InvalidDataset(
            f"dataset {dataset.name!r} has no time column: upload it with time_column, or with a "
            f"{shapes.TIMESTAMP!r} column"
        )
    frame = load_frame(platform, dataset)
    asset = roles.get("asset")
    if asset is not None:
        if frame[asset].nunique(dropna=False) > 1:
            raise InvalidDataset(
                f"dataset {dataset.name!r} holds several assets ({asset!r}); a multivariate series is "
                "one asset's: upload one asset's history"
            )
        frame = frame.drop(columns=[asset])
    settings = [c["name"] for c in dataset.columns if c.get("role") == "setting"]
    return shapes.frame_variables(frame.drop(columns=settings), time_column, dataset.name)


def _bucket_variables(platform: Platform, tenant: str, source: str, schema: str) -> dict[str, pd.Series]:
    from shopfloor.services import sources

    limit = platform.settings.max_upload_bytes
    bucket, key = sources.parse_url(source)
    if not key or key.endswith("/"):
        listed = sources.list_objects(platform, tenant, bucket, key)
        found = [o for o in listed if o.key.lower().endswith(".csv")]
        if not found:
            raise InvalidDataset("no .csv file under this folder")
        if sum(o.size for o in found) > limit:
            raise InvalidDataset(f"the .csv files of this folder hold more than the {limit:,} bytes allowed")
        files = {
            o.key.removeprefix(key): sources.read_object(platform, tenant, bucket, o.key, max_bytes=limit)
            for o in found
        }
        return shapes.from_files(files, schema, source)
    data = sources.read_object(platform, tenant, bucket, key, max_bytes=limit)
    files = shapes.zip_members(data, source) if shapes.is_zip(data) else {key: data}
    return shapes.from_files(files, schema, source)

"""Where an Azure ``dataSource`` points, read as variables: a bucket of the tenant's source (a CSV, a
zip, a folder of MultiTable files) on a real S3-compatible server, or a dataset of the tenant."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import azure_mv_data as data
from s3server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.data.stored import UploadOptions
from shopfloor.errors import InvalidInput
from shopfloor.security.keys import Principal
from shopfloor.services import datasets, sources
from shopfloor.services.azure_mv_data import read_variables
from shopfloor.settings import Settings

ALICE = Principal(key_id="key_alice", tenant="plant-a", role="builder")


@pytest.fixture()
def platform(tmp_path: Path, s3_server: MotoServer, s3_bucket: str) -> Iterator[Platform]:
    found = prepare(Settings(home=tmp_path / "home", source_allowed_networks=["127.0.0.1/32"]))
    for tenant in ("plant-a", "plant-b"):
        found.store.ensure_tenant(tenant)
    sources.add_source(
        found, ALICE, name="plant-store", endpoint_url=s3_server.url, region=REGION,
        access_key_id=ACCESS_KEY, secret=SECRET_KEY, buckets=[s3_bucket],
    )
    s3 = s3_server.client()
    frame = data.series(50)
    s3.put_object(Bucket=s3_bucket, Key="one/train.csv", Body=data.one_table(frame))
    s3.put_object(Bucket=s3_bucket, Key="multi.zip", Body=data.multi_table_zip(frame))
    for name in data.VARIABLES:
        part = frame[["timestamp", name]].rename(columns={name: "value"}).to_csv(index=False)
        s3.put_object(Bucket=s3_bucket, Key=f"folder/{name}.csv", Body=part.encode())
    s3.put_object(Bucket=s3_bucket, Key="folder/notes.txt", Body=b"not a variable")
    yield found
    found.close()


def test_a_csv_a_zip_and_a_folder_in_the_tenants_bucket(platform: Platform, s3_bucket: str) -> None:
    for source, schema in [
        (f"s3://{s3_bucket}/one/train.csv", "OneTable"),
        (f"s3://{s3_bucket}/multi.zip", "MultiTable"),
        (f"s3://{s3_bucket}/folder/", "MultiTable"),
    ]:
        found = read_variables(platform, "plant-a", source, schema)
        assert sorted(found) == ["a", "b", "c"], source
        assert all(len(s) == 50 for s in found.values())
    one = read_variables(platform, "plant-a", f"s3://{s3_bucket}/one/train.csv", "OneTable")
    folder = read_variables(platform, "plant-a", f"s3://{s3_bucket}/folder/", "MultiTable")
    assert one["b"].equals(folder["b"].rename("b"))


@pytest.mark.parametrize(
    ("source", "schema", "message"),
    [
        ("s3://{bucket}/one/nothing.csv", "OneTable", "nothing.csv"),
        ("s3://{bucket}/folder/", "OneTable", "OneTable data is one CSV file; found 3"),
        ("s3://{bucket}/empty/", "MultiTable", "no .csv file"),
        ("s3://someone-elses-bucket/train.csv", "OneTable", "someone-elses-bucket"),
        ("ftp://{bucket}/train.csv", "OneTable", "ftp"),
        ("shopfloor://datasets/", "OneTable", "name one dataset"),
    ],
)
def test_sources_that_cannot_be_read_are_named(
    platform: Platform, s3_bucket: str, source: str, schema: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_variables(platform, "plant-a", source.format(bucket=s3_bucket), schema)
    assert message in caught.value.detail
    assert caught.value.errors[0]["type"] == "DataSourceError"


def test_another_tenant_cannot_read_the_bucket(platform: Platform, s3_bucket: str) -> None:
    with pytest.raises(InvalidInput, match=s3_bucket):
        read_variables(platform, "plant-b", f"s3://{s3_bucket}/one/train.csv", "OneTable")


def _dataset(platform: Platform, text: bytes, **options: Any) -> str:
    from shopfloor.storage.scratch import scratch_file

    with scratch_file(platform.scratch, "upload") as tmp:
        tmp.write_bytes(text)
        found = datasets.store_upload(
            platform, "plant-a", tmp, name="d", size=len(text), sha256="0" * 64,
            options=UploadOptions(**options),
        )
    return found.id


def test_a_dataset_of_the_tenant(platform: Platform) -> None:
    frame = data.series(30)
    plain = _dataset(platform, data.one_table(frame))
    found = read_variables(platform, "plant-a", f"shopfloor://datasets/{plain}", "OneTable")
    assert sorted(found) == ["a", "b", "c"]
    with pytest.raises(InvalidInput, match="not found|does not exist"):
        read_variables(platform, "plant-b", f"shopfloor://datasets/{plain}", "OneTable")
    two = io.StringIO()
    frame.assign(machine=["m1"] * 15 + ["m2"] * 15).to_csv(two, index=False)
    several = _dataset(platform, two.getvalue().encode(), asset_column="machine", time_column="timestamp")
    with pytest.raises(InvalidInput, match="several assets"):
        read_variables(platform, "plant-a", f"shopfloor://datasets/{several}", "OneTable")
    one = io.StringIO()
    frame.assign(machine="m1").rename(columns={"timestamp": "t"}).to_csv(one, index=False)
    named = _dataset(platform, one.getvalue().encode(), asset_column="machine", time_column="t")
    found = read_variables(platform, "plant-a", f"shopfloor://datasets/{named}", "OneTable")
    assert sorted(found) == ["a", "b", "c"]

"""A tenant's S3 sources through the API and the SDK: admins and builders add, list and remove them,
consumers may not; the secret goes in and never comes out (not in answers, not in the audit log);
a refused request changes nothing; another tenant sees nothing (404)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Api, Homes, _fresh
from shopfloor.errors import Conflict, EndpointNotAllowed, NotFound

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY-plant"
SOURCE = {
    "name": "plant-minio",
    "endpoint_url": "http://127.0.0.1:9000",
    "region": "us-east-1",
    "access_key_id": "plant-reader",
    "secret_access_key": SECRET,
    "buckets": ["line-data", "results"],
}


@pytest.fixture()
def source_api(tmp_path: Path, homes: Homes) -> Iterator[Api]:
    """An app whose operator allows source endpoints on loopback only."""
    yield from homes.open_copy(_fresh, tmp_path / "home", source_allowed_networks=["127.0.0.1/32"])


def _names(api: Api, who: str) -> list[str]:
    answer = api.client.get("/v1/sources", headers=api.headers(who))
    assert answer.status_code == 200, answer.text
    return [s["name"] for s in answer.json()["items"]]


@pytest.mark.parametrize("who", ["admin", "builder"])
def test_add_list_get_and_remove(source_api: Api, who: str) -> None:
    api, h = source_api, source_api.headers(who)
    made = api.client.post("/v1/sources", json=SOURCE, headers=h)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert SECRET not in made.text and "secret_access_key" not in shown
    assert {k: shown[k] for k in ("name", "endpoint_url", "access_key_id", "buckets")} == {
        "name": "plant-minio",
        "endpoint_url": "http://127.0.0.1:9000",
        "access_key_id": "plant-reader",
        "buckets": ["line-data", "results"],
    }
    one = api.client.get("/v1/sources/plant-minio", headers=h)
    assert one.status_code == 200 and SECRET not in one.text and one.json()["created_at"]
    assert _names(api, who) == ["plant-minio"]
    assert api.client.delete("/v1/sources/plant-minio", headers=h).status_code == 204
    assert api.client.get("/v1/sources/plant-minio", headers=h).status_code == 404
    audit = api.client.get("/v1/audit", headers=api.headers("admin"))
    actions = [e["action"] for e in audit.json()["items"]]
    assert "source.add" in actions and "source.remove" in actions and SECRET not in audit.text


def test_consumers_and_metrics_keys_may_not(source_api: Api) -> None:
    api = source_api
    for who in ("consumer", "metrics"):
        h = api.headers(who)
        assert api.client.post("/v1/sources", json=SOURCE, headers=h).status_code == 403
        assert api.client.get("/v1/sources", headers=h).status_code == 403
        assert api.client.get("/v1/sources/plant-minio", headers=h).status_code == 403
        assert api.client.delete("/v1/sources/plant-minio", headers=h).status_code == 403
    assert api.client.get("/v1/sources").status_code == 401
    assert _names(api, "admin") == []


def test_tenants_never_see_each_other(source_api: Api) -> None:
    api = source_api
    assert api.client.post("/v1/sources", json=SOURCE, headers=api.headers("builder")).status_code == 201
    other = api.headers("other")
    assert _names(api, "other") == []
    assert api.client.get("/v1/sources/plant-minio", headers=other).status_code == 404
    assert api.client.delete("/v1/sources/plant-minio", headers=other).status_code == 404
    # the same name and buckets are the other tenant's own to register
    assert api.client.post("/v1/sources", json=SOURCE, headers=other).status_code == 201
    assert _names(api, "builder") == ["plant-minio"]


@pytest.mark.parametrize(
    ("change", "status", "where"),
    [
        ({"endpoint_url": "http://10.1.2.3:9000"}, 422, ["body", "endpoint_url"]),
        ({"endpoint_url": "http://169.254.169.254"}, 422, ["body", "endpoint_url"]),
        ({"endpoint_url": "file:///etc/passwd"}, 422, ["body", "endpoint_url"]),
        ({"endpoint_url": "http://127.0.0.1:9000/line-data"}, 422, ["body", "endpoint_url"]),
        ({"buckets": ["Not_A_Bucket"]}, 422, ["body", "buckets", 0]),
        ({"buckets": []}, 422, ["body", "buckets"]),
        ({"name": "bad name"}, 422, ["body", "name"]),
        ({"secret_access_key": ""}, 422, ["body", "secret_access_key"]),
        ({"name": "second"}, 409, ["body", "buckets"]),
        ({"buckets": ["fresh-one"]}, 409, ["body", "name"]),
    ],
)
def test_a_refused_source_changes_nothing(
    source_api: Api, change: dict[str, Any], status: int, where: list[Any]
) -> None:
    api, h = source_api, source_api.headers("builder")
    assert api.client.post("/v1/sources", json=SOURCE, headers=h).status_code == 201
    before = api.client.get("/v1/sources", headers=h).json()
    refused = api.client.post("/v1/sources", json={**SOURCE, **change}, headers=h)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert where in [e["loc"] for e in refused.json()["errors"]], refused.json()
    assert SECRET not in refused.text
    assert api.client.get("/v1/sources", headers=h).json() == before


def test_sources_stay_closed_until_the_operator_allows_endpoints(tmp_path: Path, homes: Homes) -> None:
    for api in homes.open_copy(_fresh, tmp_path / "home"):
        refused = api.client.post("/v1/sources", json=SOURCE, headers=api.headers("admin"))
        assert refused.status_code == 422 and refused.json()["type"].endswith(":endpoint-not-allowed")
        assert "SHOPFLOOR_SOURCE_ALLOWED_HOSTS" in refused.json()["detail"]


def test_the_sdk(source_api: Api) -> None:
    with source_api.sdk("builder") as sdk:
        made = sdk.add_source(
            "plant-minio", "http://127.0.0.1:9000", "plant-reader", SECRET, buckets=["line-data"]
        )
        assert made["buckets"] == ["line-data"] and "secret_access_key" not in made
        assert [s["name"] for s in sdk.list_sources()] == ["plant-minio"]
        assert sdk.get_source("plant-minio")["access_key_id"] == "plant-reader"
        with pytest.raises(Conflict, match="already served"):
            sdk.add_source("again", "http://127.0.0.1:9000", "k", SECRET, buckets=["line-data"])
        with pytest.raises(EndpointNotAllowed):
            sdk.add_source("far", "http://10.0.0.1:9000", "k", SECRET, buckets=["far-away"])
        sdk.remove_source("plant-minio")
        with pytest.raises(NotFound):
            sdk.get_source("plant-minio")

"""The platform on an S3-compatible store (moto's server in its own process, on loopback): train,
import and predict; only ciphertext in the bucket; tampering refused; one fetch per host; an outage
answers 503 with Retry-After, loses nothing acknowledged, and passes without a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_at_rest import RECORD as PLANT_RECORD
from test_at_rest import _table
from test_import import RECORD, _lightgbm, _onnx, _post

from conftest import Api, open_api
from s3server import MotoServer, s3_env
from shopfloor.context import Platform
from shopfloor.errors import StorageQuotaExceeded, StoreUnavailable
from shopfloor.jobs.registering import register_version
from shopfloor.services.doctor import examine
from shopfloor.settings import Settings

PREFIX = "plant-a"


def _settings(home: Path, server: MotoServer, bucket: str, **extra: Any) -> Settings:
    return Settings(
        home=home,
        max_upload_mb=1.0,
        max_records_per_request=50,
        default_time_budget_s=20,
        **{**s3_env(server, bucket, PREFIX), **extra},
    )


@pytest.fixture()
def plant(tmp_path: Path, s3_server: MotoServer, s3_bucket: str) -> Iterator[Api]:
    """An app whose artifacts live in a fresh bucket; ``plant.bucket`` names it."""
    for api in open_api(_settings(tmp_path / "home", s3_server, s3_bucket)):
        api.bucket, api.s3 = s3_bucket, s3_server
        yield api
        if s3_server.paused:
            s3_server.resume()


def _objects(api: Api) -> dict[str, bytes]:
    client = api.s3.client()
    listed = client.list_objects_v2(Bucket=api.bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=api.bucket, Key=o["Key"])["Body"].read() for o in listed}


def _import(api: Api, name: str, data: bytes | None = None, fmt: str = "lightgbm") -> Any:
    response = _post(api, name, _lightgbm() if data is None else data, fmt)
    assert response.status_code == 201, response.text
    return response.json()


def _predict(api: Api, name: str, version: int = 1, record: dict[str, Any] = RECORD) -> Any:
    return api.client.post(
        f"/v1/models/{name}/predict?version={version}",
        json={"records": [record]},
        headers=api.headers("consumer"),
    )


def _upload(api: Api) -> Any:
    csv = _table(120).to_csv(index=False).encode()
    return api.client.post(
        "/v1/datasets", headers=api.headers("builder"), files={"file": ("plant.csv", csv, "text/csv")}
    )


class CountingGets:
    """Counts the reads that reach the artifact store of ``platform``."""

    def __init__(self, platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        inner = platform.artifacts.get_bytes

        def get_bytes(key: str) -> bytes:
            self.n += 1
            return inner(key)

        monkeypatch.setattr(platform.artifacts, "get_bytes", get_bytes)


def test_train_import_and_predict_with_only_ciphertext_in_the_bucket(plant: Api) -> None:
    api = plant
    uploaded = _upload(api)
    assert uploaded.status_code == 201, uploaded.text
    body = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": uploaded.json()["id"],
        "target": "failure",
        "exclude": ["serial"],
        "model_name": "line1",
        "time_budget_s": 5,
    }
    assert api.client.post("/v1/jobs", json=body, headers=api.headers("builder")).status_code == 202
    api.run_jobs()
    (job,) = api.platform.store.list_jobs("default")
    assert job.status == "succeeded", job.error
    assert _predict(api, "line1", record=PLANT_RECORD).status_code == 200

    onnx = _onnx()
    _import(api, "imported", onnx, "onnx")
    predicted = _predict(api, "imported")
    assert predicted.status_code == 200, predicted.text

    stored = _objects(api)
    kinds = {key.split("/")[2] for key in stored}
    assert kinds == {"datasets", "models"} and all(k.startswith(f"{PREFIX}/default/") for k in stored)
    assert len(stored) >= 4
    for key, raw in stored.items():
        assert raw[:4] == b"SFE1", key
        for plain in (
            onnx[:64],
            onnx[-64:],
            b"PAR1",
            b"Speed [rpm]",
            b"serial",
            b"S00001",
            b"tree",
            b"failure",
        ):
            assert plain not in raw, (key, plain)
    assert not (api.settings.home / "artifacts").exists()  # the local directory is not used at all


def test_a_model_is_fetched_once_per_host(
    plant: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api = plant
    _import(api, "m")
    files = api.platform.store.get_version("default", "m", 1).files
    gets = CountingGets(api.platform, monkeypatch)
    assert _predict(api, "m").status_code == 200
    assert gets.n == len(files) >= 1
    api.platform.models.forget()  # out of memory: loaded again from this host's disk cache
    assert _predict(api, "m").status_code == 200
    assert gets.n == len(files)

    same_host = Platform.from_settings(api.settings)
    other_host = Platform.from_settings(
        api.settings.model_copy(update={"artifact_cache_dir": tmp_path / "h2"})
    )
    try:
        here, there = CountingGets(same_host, monkeypatch), CountingGets(other_host, monkeypatch)
        assert same_host.models.get("default", "m", 1).version.version == 1
        assert other_host.models.get("default", "m", 1).version.version == 1
        assert (here.n, there.n) == (0, len(files))
    finally:
        same_host.close()
        other_host.close()


def test_a_tampered_object_is_refused_and_audited(plant: Api) -> None:
    api = plant
    _import(api, "m")
    stored = {k: v for k, v in _objects(api).items() if "/models/m/" in k}
    key = max(stored, key=lambda k: len(stored[k]))  # the model itself, not its metadata
    raw = bytearray(stored[key])
    raw[len(raw) // 2] ^= 0x01
    api.s3.client().put_object(Bucket=api.bucket, Key=key, Body=bytes(raw))
    response = _predict(api, "m")
    assert response.status_code == 500, response.text
    assert response.json()["type"].endswith("artifact-corrupted")
    (event,) = api.platform.store.list_audit("default", action="artifact.rejected")
    assert event.target == "model:m:1"
    refused = api.platform.store.get_version("default", "m", 1).files[key.rsplit("/", 1)[1]]
    kept = {p.name for p in api.settings.resolved_artifact_cache_dir.rglob("*") if p.is_file()}
    assert refused not in kept  # what failed its checks is never kept for the next load


def _unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "10"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:shopfloor:problem:store-unavailable"


def test_an_outage_answers_503_loses_nothing_and_passes(plant: Api) -> None:
    api = plant
    _import(api, "loaded")
    assert _predict(api, "loaded").status_code == 200
    _import(api, "cold", _onnx(), "onnx")  # registered, never loaded on this host (other content)
    assert api.client.get("/readyz").json()["status"] == "ready"

    api.s3.pause()
    started = time.monotonic()
    _unavailable(_upload(api))
    _unavailable(_predict(api, "cold"))
    _unavailable(_post(api, "late", _lightgbm(), "lightgbm"))
    assert time.monotonic() - started < 30  # bounded: two attempts of 1 s per call, not minutes
    assert _predict(api, "loaded").status_code == 200  # in memory: serving goes on
    ready = api.client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["retry-after"]
    assert ready.json()["failed"] == ["artifacts"]
    assert ready.json()["checks"]["artifacts"] == {
        "status": "fail",
        "error": "store-unavailable",
        "detail": None,
    }
    assert api.client.get("/healthz").status_code == 200  # liveness: no reason to restart
    api.s3.resume()

    assert api.client.get("/readyz").status_code == 200
    assert _predict(api, "cold").status_code == 200
    assert _upload(api).status_code == 201
    assert _import(api, "late")["version"] == 1  # nothing half-registered stood in its way
    assert len(api.platform.store.list_datasets("default")) == 1
    assert sorted(m.name for m in api.platform.store.list_models("default")) == ["cold", "late", "loaded"]
    # A write the frozen store took in but answered too late may have landed: it is an orphan
    # (no registry row points at it), which the doctor lists and removes; nothing else is.
    report = examine(api.platform, delete_orphans=True)
    assert report.problems == [], report.problems
    assert all(o.startswith(("default/datasets/", "default/models/late/")) for o in report.orphans)
    assert examine(api.platform).orphans == []
    assert _predict(api, "late").status_code == 200 and _predict(api, "loaded").status_code == 200


def test_a_job_waits_out_a_short_outage_and_a_request_does_not(plant: Api) -> None:
    api = plant
    files = {"model.lgb.txt": _lightgbm()}
    fields = {
        "tenant": "default",
        "task": "imported_classification",
        "files": files,
        "report": {},
        "input_schema": [],
        "lineage": {},
    }
    api.s3.pause()
    try:
        with pytest.raises(StoreUnavailable):
            register_version(api.platform, model="now", **fields)
    finally:
        api.s3.resume()
    assert api.platform.store.list_models("default") == []  # nothing registered

    api.s3.pause()
    thaw = threading.Timer(2.0, api.s3.resume)
    thaw.start()
    try:
        version = register_version(api.platform, model="patient", wait_s=60, **fields)
    finally:
        thaw.join()
    assert version.version == 1 and [m.name for m in api.platform.store.list_models("default")] == ["patient"]
    # Writes the frozen store answered too late may have landed after all: orphans, no more
    examine(api.platform, delete_orphans=True)
    assert {k.rsplit("/", 1)[0] for k in _objects(api)} == {f"{PREFIX}/{version.artifact}"}
    key, digest = f"{version.artifact}/model.lgb.txt", version.files["model.lgb.txt"]
    assert api.platform.sealed.get("default", key, digest) == files["model.lgb.txt"]


class FailingSecondWrite:
    """An artifact store whose second write finds the store gone."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.writes = inner, 0

    def put_bytes(self, key: str, data: bytes) -> str:
        self.writes += 1
        if self.writes == 2:
            raise StoreUnavailable("the artifact store does not answer (test)")
        return str(self.inner.put_bytes(key, data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _register_two_files(api: Api) -> Any:
    return register_version(
        api.platform,
        tenant="default",
        model="half",
        task="imported_classification",
        files={"a.txt": b"first file", "b.txt": b"second file"},
        report={},
        input_schema=[],
        lineage={},
    )


def test_a_failed_write_leaves_no_version(plant: Api) -> None:
    api = plant
    api.platform.sealed.store = FailingSecondWrite(api.platform.sealed.store)
    with pytest.raises(StoreUnavailable):
        _register_two_files(api)
    assert api.platform.sealed.store.writes == 2
    assert api.platform.store.list_models("default") == []
    # the store is down: the first file is not deleted now (that would wait for a second round of
    # timeouts) but left as an orphan, which the doctor finds and removes
    (left,) = _objects(api)
    report = examine(api.platform, delete_orphans=True)
    assert [f"{PREFIX}/{o}" for o in report.orphans] == [left.rsplit("/", 1)[0]]
    assert _objects(api) == {}


def test_a_version_the_registry_refuses_leaves_no_object(plant: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = plant

    def refuse(**_: Any) -> Any:
        raise StorageQuotaExceeded("the tenant's storage quota is used up")

    monkeypatch.setattr(api.platform.store, "add_version", refuse)
    with pytest.raises(StorageQuotaExceeded):
        _register_two_files(api)
    assert _objects(api) == {}  # both files written, both removed

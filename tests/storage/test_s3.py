"""The S3-compatible artifact store against a real S3 server process (moto's, on loopback):
sealed objects, prefixes, deletion, the host's digest cache, outages and bad settings."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from s3server import MotoServer, s3_env
from shopfloor.errors import ArtifactCorrupted, NotFound, StoreUnavailable
from shopfloor.registry.migrate import upgrade
from shopfloor.registry.store import Store, open_store
from shopfloor.security import crypto
from shopfloor.settings import Settings
from shopfloor.storage.base import open_artifacts, patiently
from shopfloor.storage.digest_cache import DigestCache
from shopfloor.storage.s3 import S3ArtifactStore
from shopfloor.storage.sealed import SealedArtifacts

PLAIN = b'{"tree": [1, 2, 3], "feature_names": ["Speed [rpm]", "Torque [Nm]"]}' * 20


@pytest.fixture()
def registry(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    store = open_store(url)
    yield store
    store.close()


@pytest.fixture()
def settings(tmp_path: Path, s3_server: MotoServer, s3_bucket: str) -> Settings:
    return Settings(home=tmp_path / "home", **s3_env(s3_server, s3_bucket))


class Counting:
    """An artifact store that counts the reads that reach the backend."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.gets = inner, 0

    def get_bytes(self, key: str) -> bytes:
        self.gets += 1
        return bytes(self.inner.get_bytes(key))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _objects(server: MotoServer, bucket: str) -> dict[str, bytes]:
    client = server.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def _sealed(
    settings: Settings, registry: Store, master: bytes, cache_dir: Path | None = None
) -> SealedArtifacts:
    cache = DigestCache(cache_dir, 10 * 1024 * 1024) if cache_dir is not None else None
    return SealedArtifacts(open_artifacts(settings.resolved_artifacts_url, settings), master, registry, cache)


def test_objects_in_the_bucket_are_ciphertext_under_the_prefix(
    settings: Settings, registry: Store, s3_server: MotoServer, s3_bucket: str
) -> None:
    sealed = _sealed(settings, registry, crypto.new_master_key())
    assert isinstance(sealed.store, S3ArtifactStore)
    digest = sealed.put("acme", "acme/models/m/art_1/model.json", PLAIN)
    assert digest == hashlib.sha256(PLAIN).hexdigest()
    stored = _objects(s3_server, s3_bucket)
    assert list(stored) == ["plant-a/acme/models/m/art_1/model.json"]
    raw = stored["plant-a/acme/models/m/art_1/model.json"]
    assert raw.startswith(b"SFE1") and PLAIN not in raw
    for plain in (b"tree", b"feature_names", b"Speed [rpm]"):
        assert plain not in raw
    assert sealed.get("acme", "acme/models/m/art_1/model.json", digest) == PLAIN
    assert not (settings.home / "artifacts").exists()  # nothing went to the local directory


def test_list_and_delete_stay_inside_the_prefix(
    settings: Settings, s3_server: MotoServer, s3_bucket: str
) -> None:
    store = open_artifacts(settings.resolved_artifacts_url, settings)
    for key in ("acme/models/m/art_1/a", "acme/models/m/art_1/sub/b", "acme/models/m/art_12/c", "acme/x"):
        store.put_bytes(key, b"1")
    assert list(store.list_prefix("acme/models/m/art_1")) == [
        "acme/models/m/art_1/a",
        "acme/models/m/art_1/sub/b",
    ]
    assert store.exists("acme/x") and not store.exists("acme/y")
    store.delete_prefix("acme/models/m/art_1")
    assert sorted(_objects(s3_server, s3_bucket)) == ["plant-a/acme/models/m/art_12/c", "plant-a/acme/x"]
    store.delete_prefix("acme/x")  # a single object, as the local store removes a single file
    assert sorted(_objects(s3_server, s3_bucket)) == ["plant-a/acme/models/m/art_12/c"]
    with pytest.raises(NotFound, match="missing"):
        store.get_bytes("acme/x")
    with pytest.raises(ValueError, match="invalid artifact key"):
        store.put_bytes("acme/../other/x", b"1")


def test_a_tampered_object_is_refused(
    settings: Settings, registry: Store, s3_server: MotoServer, s3_bucket: str, tmp_path: Path
) -> None:
    master = crypto.new_master_key()
    digest = _sealed(settings, registry, master).put("acme", "acme/m/model.json", PLAIN)
    name = "plant-a/acme/m/model.json"
    raw = bytearray(_objects(s3_server, s3_bucket)[name])
    raw[len(raw) // 2] ^= 0x01
    s3_server.client().put_object(Bucket=s3_bucket, Key=name, Body=bytes(raw))
    fresh = _sealed(settings, registry, master, tmp_path / "cache")
    with pytest.raises(ArtifactCorrupted, match="failed authentication"):
        fresh.get("acme", "acme/m/model.json", digest, keep=True)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]  # nothing refused is kept


def test_the_host_cache_serves_a_second_load_and_never_a_bad_copy(
    settings: Settings, registry: Store, tmp_path: Path
) -> None:
    master, cache_dir = crypto.new_master_key(), tmp_path / "cache"
    writer = _sealed(settings, registry, master)
    digest = writer.put("acme", "acme/m/model.json", PLAIN)
    other = writer.put("acme", "acme/m/other.json", b"another file")

    first = _sealed(settings, registry, master, cache_dir)
    first.store = counting = Counting(first.store)
    assert first.get("acme", "acme/m/model.json", digest) == PLAIN  # read once (a batch input): not kept
    assert counting.gets == 1 and not cache_dir.exists()
    assert first.get("acme", "acme/m/model.json", digest, keep=True) == PLAIN
    assert first.get("acme", "acme/m/model.json", digest, keep=True) == PLAIN
    assert counting.gets == 2
    (entry,) = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert entry.name == digest and entry.read_bytes().startswith(b"SFE1") and PLAIN not in entry.read_bytes()

    # another process on this host: no fetch at all
    second = _sealed(settings, registry, master, cache_dir)
    second.store = counting = Counting(second.store)
    assert second.get("acme", "acme/m/model.json", digest, keep=True) == PLAIN and counting.gets == 0

    # a changed byte in the copy: dropped, fetched again, the right content served
    raw = bytearray(entry.read_bytes())
    raw[-3] ^= 0x01
    entry.write_bytes(bytes(raw))
    assert second.get("acme", "acme/m/model.json", digest, keep=True) == PLAIN and counting.gets == 1

    # another entry's (valid) copy put under this name: its seal names the other digest, refused
    assert second.get("acme", "acme/m/other.json", other, keep=True) == b"another file"
    (cache_dir / "acme" / other[:2] / other).replace(entry)
    assert second.get("acme", "acme/m/model.json", digest, keep=True) == PLAIN and counting.gets == 3

    # another tenant's copy of the same content is sealed with that tenant's key
    tenant_b = writer.put("beta", "beta/m/model.json", PLAIN)
    assert tenant_b == digest
    assert second.get("beta", "beta/m/model.json", digest, keep=True) == PLAIN and counting.gets == 4
    copy_a = (cache_dir / "acme" / digest[:2] / digest).read_bytes()
    (cache_dir / "beta" / digest[:2] / digest).write_bytes(copy_a)
    assert second.get("beta", "beta/m/model.json", digest, keep=True) == PLAIN and counting.gets == 5

    # a wrong recorded digest never reaches the cache
    with pytest.raises(ArtifactCorrupted, match="sha256"):
        second.get("acme", "acme/m/model.json", "0" * 64, keep=True)


def test_the_cache_stays_within_its_size(tmp_path: Path) -> None:
    cache = DigestCache(tmp_path / "cache", max_bytes=2500)
    for i in range(5):
        cache.write("acme", f"{i:064x}", bytes(1000))
        time.sleep(0.01)
    kept = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert kept == [f"{3:064x}", f"{4:064x}"]
    assert cache.read("acme", "../../etc/passwd") is None and cache.read("..", "0" * 64) is None


def test_a_frozen_store_fails_within_bounded_time_and_recovers(
    settings: Settings, registry: Store, s3_server: MotoServer
) -> None:
    sealed = _sealed(settings, registry, crypto.new_master_key())
    digest = sealed.put("acme", "acme/m/model.json", PLAIN)
    s3_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="does not answer") as caught:
            sealed.get("acme", "acme/m/model.json", digest)
        # two attempts of one second each, plus the backoff between them
        assert time.monotonic() - started < 8
        assert caught.value.status == 503 and caught.value.headers["Retry-After"] == "10"
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            sealed.store.probe()
        assert time.monotonic() - started < 4
    finally:
        s3_server.resume()
    assert sealed.get("acme", "acme/m/model.json", digest) == PLAIN  # no restart needed
    sealed.store.probe()


def test_nothing_listening_and_a_missing_bucket(
    tmp_path: Path, s3_server: MotoServer, s3_bucket: str
) -> None:
    dead = Settings(
        home=tmp_path, **{**s3_env(s3_server, s3_bucket), "s3_endpoint_url": "http://127.0.0.1:9"}
    )
    store = open_artifacts(dead.resolved_artifacts_url, dead)
    started = time.monotonic()
    for call in (lambda: store.put_bytes("acme/x", b"1"), lambda: store.get_bytes("acme/x"), store.probe):
        with pytest.raises(StoreUnavailable, match="does not answer"):
            call()
    assert time.monotonic() - started < 10
    gone = Settings(home=tmp_path, **s3_env(s3_server, "no-such-bucket-here"))
    with pytest.raises(StoreUnavailable, match="no-such-bucket-here"):
        open_artifacts(gone.resolved_artifacts_url, gone).probe()
    with pytest.raises(StoreUnavailable, match="refused"):
        open_artifacts(gone.resolved_artifacts_url, gone).put_bytes("acme/x", b"1")


def test_patiently_waits_out_a_short_outage(settings: Settings, s3_server: MotoServer) -> None:
    store = open_artifacts(settings.resolved_artifacts_url, settings)
    s3_server.pause()
    thaw = threading.Timer(2.0, s3_server.resume)
    thaw.start()
    try:
        assert patiently(lambda: store.put_bytes("acme/late", b"1"), 60, "test") == "acme/late"
    finally:
        thaw.join()
    assert store.get_bytes("acme/late") == b"1"
    s3_server.pause()
    try:
        with pytest.raises(StoreUnavailable):
            patiently(lambda: store.get_bytes("acme/late"), 0, "test")
    finally:
        s3_server.resume()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("s3://", "names no valid bucket"),
        ("s3:///models", "names no valid bucket"),
        ("s3://Bad_Bucket/x", "names no valid bucket"),
        ("s3://bucket/../x", "plain path"),
        ("ftp://host/artifacts", "unsupported scheme 'ftp'"),
        ("gs://bucket/x", "unsupported scheme 'gs'"),
        ("file://", "names no directory"),
    ],
)
def test_bad_artifact_urls_are_refused_at_start(url: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        Settings(artifacts_url=url)


def test_bad_s3_settings_are_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="SHOPFLOOR_S3_ENDPOINT_URL"):
        Settings(artifacts_url="s3://bucket", s3_endpoint_url="minio:9000")
    with pytest.raises(ValidationError, match="go together"):
        Settings(artifacts_url="s3://bucket", s3_access_key_id="id-only")
    with pytest.raises(ValidationError, match="s3_timeout_s"):
        Settings(artifacts_url="s3://bucket", s3_timeout_s=0)
    assert Settings(artifacts_url="s3://plant-models").artifacts_url == "s3://plant-models"
    assert Settings(artifacts_url="/srv/artifacts").artifacts_url == "/srv/artifacts"

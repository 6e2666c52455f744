"""SealedArtifacts: per-tenant keys created once, ciphertext on disk, plaintext sha256 checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFound
from shopfloor.registry.migrate import upgrade
from shopfloor.registry.store import Store, open_store
from shopfloor.security import crypto
from shopfloor.storage.local import LocalArtifactStore
from shopfloor.storage.sealed import SealedArtifacts


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    s = open_store(url)
    yield s  # type: ignore[misc]
    s.close()


def _sealed(tmp_path: Path, store: Store, master: bytes) -> SealedArtifacts:
    return SealedArtifacts(LocalArtifactStore(tmp_path / "artifacts"), master, store)


def test_round_trip_with_ciphertext_on_disk(tmp_path: Path, store: Store) -> None:
    sealed = _sealed(tmp_path, store, crypto.new_master_key())
    data = b"UDI,Type,Air temperature [K]\n1,M,298.1\n"
    digest = sealed.put("acme", "acme/datasets/d1/data.csv", data)
    assert digest == hashlib.sha256(data).hexdigest()
    raw = (tmp_path / "artifacts/acme/datasets/d1/data.csv").read_bytes()
    assert raw.startswith(b"SFE1") and b"Type" not in raw
    assert sealed.get("acme", "acme/datasets/d1/data.csv", digest) == data


def test_tenant_key_created_once_and_shared(tmp_path: Path, store: Store) -> None:
    master = crypto.new_master_key()
    a, b = _sealed(tmp_path, store, master), _sealed(tmp_path, store, master)
    a.put("acme", "acme/x", b"hello")
    assert b.get("acme", "acme/x") == b"hello"  # a second process reads the same stored key
    keys = store.list_tenant_keys()
    assert [k.tenant for k in keys] == ["acme"] and keys[0].master_key_id == crypto.key_id(master)
    assert a.tenant_key("other") != a.tenant_key("acme")


def test_wrong_master_key_is_refused(tmp_path: Path, store: Store) -> None:
    _sealed(tmp_path, store, crypto.new_master_key()).put("acme", "acme/x", b"hello")
    with pytest.raises(crypto.KeyUnavailable, match="acme"):
        _sealed(tmp_path, store, crypto.new_master_key()).get("acme", "acme/x")


def test_sha256_mismatch_tamper_and_missing(tmp_path: Path, store: Store) -> None:
    sealed = _sealed(tmp_path, store, crypto.new_master_key())
    sealed.put("acme", "acme/x", b"hello")
    with pytest.raises(ArtifactCorrupted, match="sha256"):
        sealed.get("acme", "acme/x", "0" * 64)
    path = tmp_path / "artifacts/acme/x"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactCorrupted, match="acme/x"):
        sealed.get("acme", "acme/x")
    with pytest.raises(NotFound):
        sealed.get("acme", "acme/missing")


def test_another_tenants_path_is_refused(tmp_path: Path, store: Store) -> None:
    sealed = _sealed(tmp_path, store, crypto.new_master_key())
    with pytest.raises(InvalidInput, match="outside tenant"):
        sealed.put("acme", "other/x", b"hello")
    sealed.put("other", "other/x", b"hello")
    with pytest.raises(InvalidInput):
        sealed.get("acme", "other/x")


def test_put_file_and_delete_prefix(tmp_path: Path, store: Store) -> None:
    sealed = _sealed(tmp_path, store, crypto.new_master_key())
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n1,2\n")
    sealed.put_file("acme", "acme/jobs/j1/input.csv", src)
    assert sealed.exists("acme/jobs/j1/input.csv")
    assert sealed.get("acme", "acme/jobs/j1/input.csv") == b"a,b\n1,2\n"
    sealed.delete_prefix("acme/jobs/j1")
    assert not sealed.exists("acme/jobs/j1/input.csv")

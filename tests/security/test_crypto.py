"""Master key loading, key wrapping, the SFE1 envelope and signatures."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shopfloor.errors import ArtifactCorrupted, InvalidInput
from shopfloor.security import crypto
from shopfloor.settings import Settings


def test_development_key_is_generated_once_owner_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = crypto.load_master_key(settings)
    assert len(first) == 32 and crypto.load_master_key(settings) == first
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600


def test_key_from_settings_or_file(tmp_path: Path) -> None:
    key = bytes(range(32))
    assert crypto.load_master_key(Settings(home=tmp_path, master_key=key.hex())) == key
    path = tmp_path / "k"
    path.write_text(key.hex() + "\n")
    assert crypto.load_master_key(Settings(home=tmp_path, master_key_file=path)) == key
    assert not (tmp_path / "master.key").exists()
    with pytest.raises(InvalidInput, match="64 hex"):
        crypto.load_master_key(Settings(home=tmp_path, master_key="abcd"))


def test_key_id_is_sha256_prefix() -> None:
    assert crypto.key_id(b"\0" * 32) == "66687aadf862bd77"


def test_wrap_binds_master_and_tenant() -> None:
    master, data_key = crypto.new_master_key(), crypto.new_master_key()
    wrapped = crypto.wrap_key(master, data_key, "acme")
    assert crypto.unwrap_key(master, wrapped, "acme") == data_key
    with pytest.raises(crypto.KeyUnavailable, match="wrong master key"):
        crypto.unwrap_key(crypto.new_master_key(), wrapped, "acme")
    with pytest.raises(crypto.KeyUnavailable):
        crypto.unwrap_key(master, wrapped, "other")


def test_envelope_round_trip_and_format() -> None:
    key = crypto.new_master_key()
    blob = crypto.encrypt(key, "t/a/file", b"secret rows")
    assert blob[:4] == b"SFE1" and len(blob) == 4 + 12 + len(b"secret rows") + 16
    assert b"secret" not in blob
    assert crypto.decrypt(key, "t/a/file", blob) == b"secret rows"
    assert crypto.encrypt(key, "t/a/file", b"x") != crypto.encrypt(key, "t/a/file", b"x")  # fresh nonce


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # tag
        lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:],  # ciphertext
        lambda b: b[:5] + bytes([b[5] ^ 1]) + b[6:],  # nonce
        lambda b: b[:-3],  # truncated
        lambda b: b"PAR1" + b[4:],  # not an envelope
    ],
)
def test_any_change_is_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    key = crypto.new_master_key()
    blob = crypto.encrypt(key, "t/a/file", b"0123456789" * 10)
    with pytest.raises(ArtifactCorrupted, match="t/a/file"):
        crypto.decrypt(key, "t/a/file", mutate(blob))


def test_a_moved_file_does_not_decrypt() -> None:
    key = crypto.new_master_key()
    blob = crypto.encrypt(key, "t/models/a/1/model.txt", b"model")
    with pytest.raises(ArtifactCorrupted, match="moved"):
        crypto.decrypt(key, "t/models/a/2/model.txt", blob)


def test_signatures_are_canonical_and_keyed() -> None:
    key = crypto.signing_key(b"server secret")
    claims = {"b": [1, 2], "a": {"y": 1, "x": "é"}}
    sig = crypto.sign(key, claims)
    assert sig.startswith("hs256v1:")
    assert crypto.verify(key, {"a": {"x": "é", "y": 1}, "b": [1, 2]}, sig)  # key order does not matter
    assert not crypto.verify(key, {**claims, "b": [2, 1]}, sig)
    assert not crypto.verify(crypto.signing_key(b"other secret"), claims, sig)
    assert not crypto.verify(key, claims, None)
    assert not crypto.verify(key, claims, sig[:-1] + ("0" if sig[-1] != "0" else "1"))

"""Master-key rotation re-wraps tenant keys only: data stays as written, signatures stay valid."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopfloor.bootstrap import prepare
from shopfloor.cli import app
from shopfloor.context import Platform
from shopfloor.data.stored import load_frame, store_table
from shopfloor.registry.entities import Dataset
from shopfloor.security import crypto
from shopfloor.security.rotation import rotate_development_key, rotate_master
from shopfloor.settings import Settings

CSV = b"Type,Torque [Nm],failure\nM,41.2,0\nL,39.9,1\nH,50.0,0\n"


def _dataset(settings: Settings, tenant: str = "default") -> Dataset:
    platform = prepare(settings)
    try:
        src = settings.home / "upload.csv"
        src.write_bytes(CSV)
        return store_table(
            platform, tenant, src, name="plant", size=len(CSV), sha256=hashlib.sha256(CSV).hexdigest()
        )
    finally:
        platform.close()


def _digests(home: Path) -> dict[str, str]:
    root = home / "artifacts"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _read(settings: Settings, dataset: Dataset) -> list[str]:
    platform = Platform.from_settings(settings)
    try:
        return list(load_frame(platform, dataset)["Type"])
    finally:
        platform.close()


def test_development_rotation(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    ds = _dataset(settings)
    _dataset(settings, tenant="acme")
    old_key = crypto.load_master_key(settings)
    before = _digests(tmp_path)

    result = rotate_development_key(settings)

    new_key = crypto.load_master_key(settings)
    assert new_key != old_key and result["new_key_id"] == crypto.key_id(new_key)
    assert result["old_key_id"] == crypto.key_id(old_key) and result["rewrapped"] == 2
    assert crypto.read_key_file(tmp_path / "master.key.previous") == old_key
    assert not (tmp_path / "master.key.next").exists()
    assert _digests(tmp_path) == before  # no data file was re-encrypted
    assert _read(settings, ds) == ["M", "L", "H"]  # with the new key only (master.key now holds it)

    platform = Platform.from_settings(settings)
    try:
        for tk in platform.store.list_tenant_keys():
            assert tk.master_key_id == crypto.key_id(new_key) and tk.rotated_at is not None
            with pytest.raises(crypto.KeyUnavailable):
                crypto.unwrap_key(old_key, tk.wrapped_key, tk.tenant)
    finally:
        platform.close()


def test_rotation_to_a_key_file(tmp_path: Path) -> None:
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    crypto.write_key_file(old_file, crypto.new_master_key())
    new_key = crypto.new_master_key()
    crypto.write_key_file(new_file, new_key)
    old = Settings(home=tmp_path / "home", master_key_file=old_file)
    ds = _dataset(old)
    before = _digests(old.home)

    assert rotate_master(old, new_key)["rewrapped"] == 1
    assert rotate_master(old, new_key)["rewrapped"] == 0  # a re-run changes nothing

    assert _digests(old.home) == before
    assert _read(Settings(home=old.home, master_key_file=new_file), ds) == ["M", "L", "H"]
    with pytest.raises(crypto.KeyUnavailable):
        _read(old, ds)


def test_rotation_aborts_when_a_tenant_key_does_not_open(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, master_key=crypto.new_master_key().hex())
    _dataset(settings)
    wrong = Settings(home=tmp_path, master_key=crypto.new_master_key().hex())
    with pytest.raises(crypto.KeyUnavailable):
        rotate_master(wrong, crypto.new_master_key())
    platform = Platform.from_settings(settings)
    try:
        (tk,) = platform.store.list_tenant_keys()
        assert tk.rotated_at is None
    finally:
        platform.close()


def test_cli_rotate_master(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path))
    settings = Settings(home=tmp_path)
    ds = _dataset(settings)
    result = CliRunner().invoke(app, ["keys", "rotate-master"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == crypto.key_id(crypto.load_master_key(settings))
    assert _read(settings, ds) == ["M", "L", "H"]

    new_file = tmp_path / "next.key"
    crypto.write_key_file(new_file, crypto.new_master_key())
    result = CliRunner().invoke(app, ["keys", "rotate-master", "--new-key-file", str(new_file)])
    assert result.exit_code == 0, result.output
    assert "SHOPFLOOR_MASTER_KEY_FILE" in result.stderr

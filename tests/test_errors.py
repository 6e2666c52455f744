"""Every project error descends from ShopfloorError and carries a status and a code."""

from __future__ import annotations

import inspect

import pytest

import shopfloor.errors as errors
from shopfloor.settings import Settings


def _all_modules() -> list:
    import importlib
    import pkgutil

    import shopfloor

    names = [
        m.name for m in pkgutil.walk_packages(shopfloor.__path__, "shopfloor.") if ".migrations" not in m.name
    ]
    return [importlib.import_module(n) for n in names]


def test_every_error_descends_from_the_root() -> None:
    classes = {
        c
        for module in [errors, *_all_modules()]
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, Exception) and c.__module__.startswith("shopfloor")
    }
    assert len(classes) >= 8
    for cls in classes:
        assert issubclass(cls, errors.ShopfloorError), cls
        assert 400 <= cls.status < 600 and cls.code and cls.title


def test_production_mode_needs_a_secret(tmp_path) -> None:
    with pytest.raises(ValueError, match="SHOPFLOOR_SECRET_KEY"):
        Settings(home=tmp_path, mode="production")
    with pytest.raises(ValueError, match="SHOPFLOOR_MASTER_KEY"):
        Settings(home=tmp_path, mode="production", secret_key="s" * 32)
    ok = Settings(home=tmp_path, mode="production", secret_key="s" * 32, master_key="a" * 64)
    assert ok.mode == "production"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOOR_MAX_UPLOAD_MB", "7")
    s = Settings()
    assert s.home == tmp_path and s.max_upload_bytes == 7 * 1024 * 1024
    assert s.resolved_database_url.startswith("sqlite:///")

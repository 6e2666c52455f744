"""Everything the server creates under its home is owner-only, whatever umask it was started with."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.jobs.runner import execute
from shopfloor.security.files import private_home
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings


@pytest.fixture()
def open_umask() -> Iterator[None]:
    before = os.umask(0o022)  # what a shell usually starts a process with
    yield
    os.umask(before)


def _open_to_others(home: Path) -> list[str]:
    paths = [home, *home.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    return [f"{p.relative_to(home)} {stat.filemode(mode)}" for p, mode in modes.items() if mode & 0o077]


def test_home_registry_keys_artifacts_and_scratch_are_owner_only(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, max_upload_mb=4.0)
    platform = prepare(settings)
    key = issue_key(platform.store, platform.secret, tenant="default", role="admin").secret
    headers = {"Authorization": f"Bearer {key}"}
    frame = pd.DataFrame({"x": range(300), "kind": ["a", "b", "c"] * 100, "y": [0, 1] * 150})
    big = b"x\n" + b"1234567\n" * 150_000  # over 1 MB: Starlette would spool it to the system temp folder
    monkeypatch.setattr(tempfile, "TemporaryFile", _no_temporary_files)
    with TestClient(create_app(settings, platform), raise_server_exceptions=False) as client:
        up = client.post("/v1/datasets", headers=headers, files={"file": ("big.csv", big, "text/csv")})
        assert up.status_code == 201, up.text
        small = frame.to_csv(index=False).encode()
        up = client.post("/v1/datasets", headers=headers, files={"file": ("t.csv", small, "text/csv")})
        assert up.status_code == 201, up.text
        job = client.post(
            "/v1/jobs",
            headers=headers,
            json={
                "type": "train",
                "task": "tabular_classification",
                "dataset_id": up.json()["id"],
                "target": "y",
                "model_name": "m",
                "time_budget_s": 3,
            },
        )
        assert job.status_code == 202, job.text
        while (claimed := platform.store.claim_job("test:0")) is not None:
            execute(settings, claimed.id)
    platform.close()
    assert (home / "registry.db").exists() and (home / "secret.key").exists()
    assert len([p for p in (home / "artifacts").rglob("*") if p.is_file()]) >= 3  # dataset and model
    assert _open_to_others(home) == []


def _no_temporary_files(*args: object, **kwargs: object) -> None:
    raise AssertionError("an upload was spooled to the system temporary folder")


def test_an_existing_open_home_is_closed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    private_home(home)
    assert home.stat().st_mode & 0o777 == 0o700

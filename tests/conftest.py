"""Shared fixtures: isolated home directories and the real datasets from ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pgcluster import pg_cluster, pg_database  # noqa: F401 - fixtures shared by every test folder
from s3server import s3_bucket, s3_server  # noqa: F401 - fixtures shared by every test folder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Jobs, requests and estimators run in many threads of this one process, and each thread that starts
# OpenMP work gets its own team, so libgomp soon manages more threads than there are cores. It then
# spins only 100 times before sleeping at every barrier: small LightGBM fits ran 8 times slower after
# the model zoo was built. "ACTIVE" raises that to 1,000 spins; GOMP_SPINCOUNT keeps the ordinary
# spin (before a thread sleeps) at libgomp's default instead of the minutes "ACTIVE" alone would give.
os.environ.setdefault("OMP_WAIT_POLICY", "ACTIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "300000")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def shared_hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export cache for the whole run: every platform a test builds exports MiniLM once."""
    path = tmp_path_factory.mktemp("hub-cache")
    os.environ["SHOPFLOOR_HUB_CACHE"] = str(path)
    return path


def _data_dir() -> Path:
    return Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _data_dir()
    if not path.is_dir():
        pytest.fail(f"datasets not found at {path}; set SHOPFLOOR_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def ai4i_path(data_dir: Path) -> Path:
    return data_dir / "ai4i2020" / "ai4i2020.csv"


AI4I_EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
AI4I_TARGET = "Machine failure"
